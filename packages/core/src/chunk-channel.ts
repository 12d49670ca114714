/**
 * A single-consumer async queue: a producer pushes values without waiting, the consumer reads
 * them with `for await`. Closing ends the iteration; failing makes the next read throw. When the
 * consumer stops early, `onCancel` runs so the producer can stop too, and the consumer's `return`
 * (a `break` out of its loop) resolves once what `onCancel` returns has settled: the producer has
 * stopped, so the consumer may start another right after.
 */
export class ChunkChannel<T> implements AsyncIterable<T> {
  private readonly queue: T[] = [];
  private head = 0;
  private waiting: ((r: IteratorResult<T>) => void) | null = null;
  private failing: ((e: unknown) => void) | null = null;
  private closed = false;
  private error: unknown = undefined;
  private hasError = false;

  constructor(private readonly onCancel: () => PromiseLike<unknown>) {}

  push(value: T): void {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failing = null;
      resolve({ value, done: false });
    } else {
      this.queue.push(value);
    }
  }

  close(): void {
    this.closed = true;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      this.failing = null;
      resolve({ value: undefined, done: true });
    }
  }

  fail(error: unknown): void {
    this.error = error;
    this.hasError = true;
    this.closed = true;
    if (this.failing) {
      const reject = this.failing;
      this.waiting = null;
      this.failing = null;
      reject(error);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.head < this.queue.length) {
          const value = this.queue[this.head++] as T;
          if (this.head === this.queue.length) {
            this.queue.length = 0;
            this.head = 0;
          }
          return Promise.resolve({ value, done: false });
        }
        if (this.hasError) return Promise.reject(this.error);
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.waiting = resolve;
          this.failing = reject;
        });
      },
      return: async () => {
        const stopped = this.closed ? undefined : this.onCancel();
        this.closed = true;
        this.queue.length = 0;
        this.head = 0;
        if (stopped) await Promise.resolve(stopped).then(undefined, () => {});
        return { value: undefined, done: true };
      },
    };
  }
}
