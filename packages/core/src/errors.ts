/**
 * Machine-readable codes carried by every {@link TreespecError}.
 */
export type TreespecErrorCode =
  | 'INVALID_OPTION'
  | 'MODEL_FORMAT'
  | 'MODEL_MISMATCH'
  | 'CONTEXT_OVERFLOW'
  | 'NUMERIC'
  | 'ABORTED'
  | 'BUSY'
  | 'DISPOSED'
  | 'PROVIDER_UNAVAILABLE'
  | 'RUNTIME_UNAVAILABLE'
  | 'PROVIDER_UNSUPPORTED'
  | 'TOKENIZER'
  | 'LOAD'
  | 'CONTRACT';

/**
 * Base class of every error treespec throws on purpose. `code` is stable and meant for programs;
 * `message` says what was expected, what was found, and where.
 */
export class TreespecError extends Error {
  readonly code: TreespecErrorCode;

  constructor(code: TreespecErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * An option or argument outside its allowed range. `option` names it, `value` is what was given
 * (`undefined` for an option left out that has no default).
 */
export class OptionError extends TreespecError {
  readonly option: string;
  readonly value: unknown;
  /** What the option must be, as the message says it. */
  readonly expected: string;

  constructor(option: string, value: unknown, expected: string) {
    const found = value === undefined ? 'none was given' : `got ${describeValue(value)}`;
    super('INVALID_OPTION', `option "${option}" must be ${expected}; ${found}`);
    this.option = option;
    this.value = value;
    this.expected = expected;
  }
}

/** A model file or manifest that is malformed, or a model that does not fit its partner. */
export class ModelFormatError extends TreespecError {
  readonly file: string | undefined;

  constructor(
    message: string,
    options?: { file?: string; cause?: unknown; code?: 'MODEL_FORMAT' | 'MODEL_MISMATCH' },
  ) {
    super(options?.code ?? 'MODEL_FORMAT', options?.file ? `${options.file}: ${message}` : message, options);
    this.file = options?.file;
  }
}

/** A prompt or generation that does not fit in the model's context window. */
export class ContextOverflowError extends TreespecError {
  readonly needed: number;
  readonly limit: number;

  constructor(needed: number, limit: number, what: string) {
    super('CONTEXT_OVERFLOW', `${what} needs ${needed} positions but the model's context holds ${limit}`);
    this.needed = needed;
    this.limit = limit;
  }
}

/** A model produced a non-finite number where a distribution was expected. */
export class NumericError extends TreespecError {
  readonly position: number;

  constructor(message: string, position: number) {
    super('NUMERIC', message);
    this.position = position;
  }
}

/** A generation was started while another one was still running on the same decoder. */
export class BusyError extends TreespecError {
  constructor(what: string) {
    super(
      'BUSY',
      `${what} is already generating; await the running generation's result first (after aborting it, too: it stops at its next step)`,
    );
  }
}

/**
 * A component returned something its contract forbids, e.g. a verifier whose accepted path is
 * not a chain of the draft tree. Always a bug in that component, never bad user input.
 */
export class ContractError extends TreespecError {
  constructor(message: string) {
    super('CONTRACT', message);
  }
}

/** Thrown when an operation is cancelled through an AbortSignal and there is nothing to return. */
export class AbortError extends TreespecError {
  constructor(message = 'the operation was aborted') {
    super('ABORTED', message);
  }
}

/** Renders a value for an error message: strings quoted, numbers as written, the rest JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * A model file a host could not read, fetch or open (ONNX Runtime refused it); `file` names it.
 * Thrown by the Node and browser loaders alike.
 */
export class ModelLoadError extends TreespecError {
  readonly file: string;

  constructor(file: string, message: string, cause?: unknown) {
    super('LOAD', `${file}: ${message}`, { cause });
    this.name = 'ModelLoadError';
    this.file = file;
  }
}

/**
 * An execution provider that cannot run here (a missing GPU, driver or binary); `reason` says
 * why and the message how to get it. Thrown by the Node and browser loaders alike.
 */
export class ProviderUnavailableError extends TreespecError {
  /** The provider asked for, e.g. `cuda`, `webgpu`. */
  readonly provider: string;
  readonly reason: string;

  constructor(provider: string, reason: string, options: { hint?: string; cause?: unknown } = {}) {
    super(
      'PROVIDER_UNAVAILABLE',
      `execution provider "${provider}" is unavailable: ${reason}${options.hint ? `; ${options.hint}` : ''}`,
      { cause: options.cause },
    );
    this.name = 'ProviderUnavailableError';
    this.provider = provider;
    this.reason = reason;
  }
}

/**
 * A model that the chosen execution provider cannot run as converted (e.g. fused attention or
 * float16 activations where the provider lacks the kernels); `fallback` says what runs instead.
 * Thrown at load, before any session is opened, by the planner for every host.
 */
export class ProviderSupportError extends TreespecError {
  /** The provider asked for, e.g. `cuda`, `wasm`. */
  readonly provider: string;
  /** The manifest id of the model it cannot run. */
  readonly model: string;
  /** What of the model the provider lacks, e.g. `fused attention (GroupQueryAttention) with float32 activations`. */
  readonly feature: string;
  /** What to use instead: another model, conversion or provider. */
  readonly fallback: string;
  /** The manifest's path or URL. */
  readonly file: string;

  constructor(details: { provider: string; model: string; feature: string; fallback: string; file: string }) {
    super(
      'PROVIDER_UNSUPPORTED',
      `${details.file}: model "${details.model}" needs ${details.feature}, which execution provider ` +
        `"${details.provider}" cannot run; ${details.fallback}`,
    );
    this.name = 'ProviderSupportError';
    this.provider = details.provider;
    this.model = details.model;
    this.feature = details.feature;
    this.fallback = details.fallback;
    this.file = details.file;
  }
}
