import { Xoshiro128 } from '@treespec/core';

/** Values a hostile file might hold where another was expected. */
const HOSTILE_VALUES: readonly unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  1e12,
  2 ** 53 + 2,
  '',
  '../../../../etc/passwd',
  '/etc/passwd',
  'x'.repeat(300),
  '\u0000',
  [],
  [1, 2],
  {},
  { __proto__: { polluted: true } },
];

type Json = Record<string, unknown> | unknown[];

function containers(value: unknown, out: Json[]): Json[] {
  if (value && typeof value === 'object') {
    out.push(value as Json);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

/**
 * Applies `count` seeded mutations to a deep copy of `value`: each picks a random object or
 * array inside it and deletes, replaces (with a hostile value or a sibling's) or adds an entry.
 */
export function mutateJson<T>(value: T, rng: Xoshiro128, count: number): T {
  const copy = structuredClone(value);
  for (let i = 0; i < count; i++) {
    const all = containers(copy, []);
    const target = all[rng.nextUint32() % all.length]!;
    const keys = Object.keys(target);
    const key = keys.length > 0 ? keys[rng.nextUint32() % keys.length]! : '0';
    const action = rng.nextUint32() % 4;
    const hostile = HOSTILE_VALUES[rng.nextUint32() % HOSTILE_VALUES.length];
    if (action === 0 && keys.length > 0) {
      if (Array.isArray(target)) target.splice(Number(key), 1);
      else delete target[key];
    } else if (action === 1) {
      (target as Record<string, unknown>)[key] = structuredClone(hostile);
    } else if (action === 2 && keys.length > 1) {
      const other = keys[rng.nextUint32() % keys.length]!;
      (target as Record<string, unknown>)[key] = structuredClone((target as Record<string, unknown>)[other]);
    } else {
      (target as Record<string, unknown>)[`extra${rng.nextUint32() % 100}`] = structuredClone(hostile);
    }
  }
  return copy;
}

/** A seeded generator (exported so suites share one kind). */
export function seeded(seed: number): Xoshiro128 {
  return new Xoshiro128(seed);
}
