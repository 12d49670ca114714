import { OptionError } from './errors.js';

/**
 * Checks that `value` is an integer in [min, max] and returns it; otherwise throws an
 * {@link OptionError} naming the option, the value and the allowed range.
 */
export function requireInteger(
  option: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new OptionError(option, value, range);
  }
  return value;
}

/**
 * Checks that `value` is a finite number within the given bounds and returns it.
 * `minExclusive` makes the lower bound open, as for top-p in (0, 1].
 */
export function requireNumber(
  option: string,
  value: unknown,
  bounds: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean },
): number {
  const { min = -Infinity, max = Infinity, minExclusive = false, maxExclusive = false } = bounds;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (minExclusive ? value > min : value >= min) &&
    (maxExclusive ? value < max : value <= max);
  if (!ok) {
    const lo = min === -Infinity ? '' : `${minExclusive ? '>' : '>='} ${min}`;
    const hi = max === Infinity ? '' : `${maxExclusive ? '<' : '<='} ${max}`;
    const range = [lo, hi].filter(Boolean).join(' and ');
    throw new OptionError(option, value, `a finite number${range ? ` ${range}` : ''}`);
  }
  return value;
}

/**
 * Checks that `value` is absent (undefined or null) or an `AbortSignal` (anything with a boolean
 * `aborted` and `addEventListener`, as a polyfill's is) and returns it; otherwise throws an
 * {@link OptionError}.
 */
export function requireSignal(option: string, value: unknown): AbortSignal | undefined {
  // null as undefined: `signal: null` means none, as `fetch` reads it.
  if (value === undefined || value === null) return undefined;
  const signal = value as Partial<AbortSignal> | null;
  if (
    typeof signal !== 'object' ||
    signal === null ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function' ||
    typeof signal.removeEventListener !== 'function'
  ) {
    throw new OptionError(option, value, 'an AbortSignal (e.g. an AbortController’s signal)');
  }
  return value as AbortSignal;
}

/**
 * Checks that `value` is absent or one of `allowed` and returns it; otherwise throws an
 * {@link OptionError} listing what is allowed.
 */
export function requireOneOf<T extends string>(
  option: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new OptionError(option, value, `one of ${allowed.map((v) => `"${v}"`).join(', ')}`);
  }
  return value as T;
}
