import { ContextOverflowError, OptionError } from './errors.js';

/**
 * Checks that `value` is an integer in [min, max] and returns it; otherwise throws an
 * {@link OptionError} naming the option, the value and the allowed range, and what sets the
 * range when `bound` says it ("the target's vocabulary").
 */
export function requireInteger(
  option: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  bound?: string,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new OptionError(option, value, bound ? `${range} (${bound})` : range);
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

/**
 * Checks that `value` is absent (undefined) or a boolean and returns it; otherwise throws an
 * {@link OptionError}.
 */
export function requireBoolean(option: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean')
    throw new OptionError(option, value, 'true or false');
  return value;
}

/**
 * Checks that `value` is absent (undefined or null) or an object, as a tree budget
 * (`{ topK, frontier, depth, totalTokens }`) is; its numbers are checked where the budget is read.
 * @throws OptionError naming the option and what was given.
 */
export function requireTreeShape(option: string, value: unknown): void {
  if (value != null && (typeof value !== 'object' || Array.isArray(value))) {
    throw new OptionError(option, value, 'a tree budget object ({ topK, frontier, depth, totalTokens })');
  }
}

/**
 * Checks that a prompt of `length` tokens fits a model whose context holds `maxContext`: the
 * decoder's check, which a caller may make before it starts anything (a server, before it sends a
 * stream's headers).
 * @throws ContextOverflowError naming the prompt's length and the context's.
 */
export function requirePromptFits(length: number, maxContext: number): void {
  if (length > maxContext) throw new ContextOverflowError(length, maxContext, `a prompt of ${length} tokens`);
}

/**
 * Checks that `value` is absent (undefined) or a function and returns it; otherwise throws an
 * {@link OptionError} saying what the function is for.
 */
export function requireFunction<T extends (...args: never[]) => unknown>(
  option: string,
  value: unknown,
  what: string,
): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new OptionError(option, value, what);
  return value as T | undefined;
}

/**
 * Checks that `value` is an object with a method of each name in `methods` (a part that a caller
 * built: a target, a verifier, a drafter, a stop criterion), so that a wrong one is refused when
 * it is given rather than as a bare `TypeError` in the middle of a generation.
 * @throws OptionError naming the option and what it must be.
 */
export function requireMethods(
  option: string,
  value: unknown,
  methods: readonly string[],
  what: string,
): void {
  const ok =
    typeof value === 'object' &&
    value !== null &&
    methods.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
  if (!ok) throw new OptionError(option, value, what);
}
