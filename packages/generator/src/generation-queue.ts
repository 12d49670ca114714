import {
  type GenerationChunk,
  type GenerationResult,
  type GenerationStream,
  requireInteger,
  requireSignal,
  StatsRecorder,
  TreespecError,
} from '@treespec/core';

/** Generations a {@link GenerationQueue} lets wait behind the running one unless told otherwise. */
export const DEFAULT_MAX_QUEUED = 32;

/** More generations were asked for than the queue lets wait; `limit` is the queue's bound. */
export class QueueFullError extends TreespecError {
  readonly limit: number;

  constructor(limit: number) {
    super(
      'BUSY',
      `the generator already has ${limit} generations waiting behind the running one (maxQueued ${limit}); ` +
        'await or abort some first, or create the generator with a larger maxQueued',
    );
    this.limit = limit;
  }
}

/** A generator was used after `dispose()` released its models. */
export class DisposedError extends TreespecError {
  constructor(what: string) {
    super('DISPOSED', `${what} was disposed and its models released; load it again to generate`);
  }
}

/** One generation's turn: its signal (the caller's, also aborted by `close`) and the release. */
interface Turn {
  readonly signal: AbortSignal;
  release(): void;
}

interface Waiter {
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  resolve(turn: Turn | null): void;
}

/**
 * Serves generations over shared models one at a time, in the order they were asked for. A model
 * holds one KV cache, so two generations that ran at once would overwrite each other's; here
 * the others wait. Each waiting call can be aborted (it then ends with finish reason `abort` and
 * no tokens), a call finding `maxQueued` waiting ahead of it gets a {@link QueueFullError} (each
 * caller may bring its own bound), and `close` refuses new calls, ends the waiting ones and aborts
 * the running one.
 */
export class GenerationQueue {
  /** The bound of callers that bring none. */
  readonly maxQueued: number;
  private readonly waiters: Waiter[] = [];
  private running: AbortController | null = null;
  private idle: Promise<void> = Promise.resolve();
  private settleIdle: () => void = () => {};
  private closed = false;

  /**
   * @param what - what the queue serves, for messages (e.g. "this generator").
   * @param maxQueued - most generations that may wait behind the running one.
   */
  constructor(
    private what: string,
    maxQueued = DEFAULT_MAX_QUEUED,
  ) {
    this.maxQueued = requireInteger('maxQueued', maxQueued, 0);
  }

  /** Whether `close` has run: the models it serves are released. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Serves `what` as well from now on (another generator over the same models), which a
   * {@link DisposedError} then names beside the first.
   */
  share(what: string): this {
    if (!this.what.includes(what)) this.what = `${this.what}, or ${what},`;
    return this;
  }

  /** Generations waiting behind the running one. */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * A stream that starts `start` (with the turn's signal) once every earlier generation has
   * settled, and releases the turn when its result settles. Throws at once when the queue is
   * closed, when `maxQueued` generations already wait (this caller's bound: a generator sharing
   * the queue keeps its own), or when `signal` is not an `AbortSignal`.
   */
  stream(
    promptLength: number,
    signal: AbortSignal | undefined,
    start: (signal: AbortSignal) => GenerationStream,
    maxQueued = this.maxQueued,
  ) {
    const turn = this.acquire(requireSignal('signal', signal), maxQueued);
    const started = turn.then((t) => {
      if (!t) return null;
      try {
        const inner = start(t.signal);
        inner.result.then(t.release, t.release);
        return inner;
      } catch (error) {
        t.release();
        throw error;
      }
    });
    const result: Promise<GenerationResult> = started.then((inner) =>
      inner ? inner.result : abortedBeforeStart(promptLength),
    );
    result.catch(() => {});
    return {
      result,
      async *[Symbol.asyncIterator](): AsyncGenerator<GenerationChunk, void, undefined> {
        const inner = await started;
        if (inner) yield* inner;
      },
    } satisfies GenerationStream;
  }

  /**
   * Refuses new generations, ends the waiting ones as aborted and aborts the running one;
   * resolves once it has stopped.
   */
  close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(null);
    }
    this.running?.abort();
    return this.idle;
  }

  private acquire(signal: AbortSignal | undefined, maxQueued: number): Promise<Turn | null> {
    if (this.closed) throw new DisposedError(this.what);
    if (!this.running) return Promise.resolve(this.begin(signal));
    if (this.waiters.length >= maxQueued) throw new QueueFullError(maxQueued);
    if (signal?.aborted) return Promise.resolve(null);
    return new Promise<Turn | null>((resolve) => {
      const waiter: Waiter = {
        signal,
        resolve,
        onAbort: () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          resolve(null);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private begin(signal: AbortSignal | undefined): Turn {
    const controller = new AbortController();
    this.running = controller;
    this.idle = new Promise<void>((resolve) => {
      this.settleIdle = resolve;
    });
    const onAbort = () => controller.abort();
    if (signal?.aborted) controller.abort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    let released = false;
    return {
      signal: controller.signal,
      release: () => {
        if (released) return;
        released = true;
        signal?.removeEventListener('abort', onAbort);
        this.running = null;
        this.settleIdle();
        const next = this.waiters.shift();
        if (next) {
          next.signal?.removeEventListener('abort', next.onAbort);
          next.resolve(this.begin(next.signal));
        }
      },
    };
  }
}

/** The result of a generation aborted before its turn: no tokens, finish reason `abort`. */
function abortedBeforeStart(promptLength: number): GenerationResult {
  return {
    tokens: new Int32Array(0),
    finishReason: 'abort',
    stats: new StatsRecorder(1).summary(promptLength, 0),
  };
}
