/** An error class a case expects (any `Error` subclass). */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** What treespec does with a fault: refuse it with a typed error, or give a clean result. */
export type Outcome =
  | { readonly kind: 'error'; readonly error: ErrorClass; readonly message: RegExp }
  | { readonly kind: 'clean'; readonly result: string };

/** Refused with `error`, whose message matches `message`. */
export function refused(error: ErrorClass, message: RegExp): Outcome {
  return { kind: 'error', error, message };
}

/** A clean result, described in `result` (what the case then checks). */
export function clean(result: string): Outcome {
  return { kind: 'clean', result };
}

/**
 * One entry of the catalogue: a bad input or fault, what treespec does with it, and how to
 * provoke it. `run` resolves with the result (clean cases) or rejects with the error; `check`
 * asserts more about a clean result.
 */
export interface FaultCase<Context> {
  readonly id: string;
  readonly fault: string;
  readonly outcome: Outcome;
  run(context: Context): Promise<unknown>;
  check?(result: unknown, context: Context): void | Promise<void>;
}

/** The outcome as the catalogue writes it. */
export function describeOutcome(outcome: Outcome): string {
  return outcome.kind === 'error'
    ? `\`${outcome.error.name}\` matching \`${outcome.message.source.replaceAll('|', '\\|')}\``
    : `clean: ${outcome.result}`;
}
