import { ApiError } from './api-error.js';

/** A held slot; call it once when the generation ends. */
export type ReleaseSlot = () => void;

interface Waiter {
  grant: (release: ReleaseSlot) => void;
  refuse: (error: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * The one generation a loaded model runs at a time, and the bounded line of requests waiting for
 * it. Requests are served in arrival order; when `maxWaiting` are already waiting, `acquire`
 * refuses with a 429 whose `Retry-After` estimates when a place frees up.
 */
export class GenerationSlot {
  private busy = false;
  private readonly waiters: Waiter[] = [];
  private closedError: ApiError | null = null;
  private meanHoldMs = 0;
  private holds = 0;

  /**
   * @param maxWaiting most requests waiting behind the running one (0: none may wait).
   */
  constructor(readonly maxWaiting: number) {}

  /** Requests waiting for the slot. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Whether a generation holds the slot. */
  get running(): boolean {
    return this.busy;
  }

  /**
   * Waits for the slot in arrival order. Rejects with a 429 when the line is full, with a 503 once
   * the slot is closed, and with the signal's reason when the signal aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<ReleaseSlot> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.busy) {
      this.busy = true;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.maxWaiting) {
      const seconds = Math.max(1, Math.ceil(((this.waiters.length + 1) * this.meanHoldMs) / 1000));
      return Promise.reject(
        new ApiError(
          429,
          `the server is busy: ${this.waiters.length} requests are already waiting; retry later`,
          {
            type: 'rate_limit_error',
            code: 'queue_full',
            headers: { 'retry-after': String(seconds) },
          },
        ),
      );
    }
    return new Promise<ReleaseSlot>((grant, refuse) => {
      const waiter: Waiter = {
        grant,
        refuse,
        signal,
        onAbort: () => {
          const at = this.waiters.indexOf(waiter);
          if (at >= 0) this.waiters.splice(at, 1);
          refuse(signal!.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Refuses every waiting request and every later one with `error` (a 503 on shutdown). */
  close(error: ApiError): void {
    this.closedError = error;
    for (const waiter of this.waiters.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.refuse(error);
    }
  }

  private releaser(): ReleaseSlot {
    const started = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds++;
      this.meanHoldMs += (performance.now() - started - this.meanHoldMs) / this.holds;
      const next = this.waiters.shift();
      if (!next) {
        this.busy = false;
        return;
      }
      next.signal?.removeEventListener('abort', next.onAbort);
      next.grant(this.releaser());
    };
  }
}
