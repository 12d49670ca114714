/** What an aborted call rejects with: the signal's reason, or an `AbortError` `DOMException`. */
export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The generation was aborted', 'AbortError');
}

/**
 * Runs holders one at a time in call order: a treespec engine runs one generation at a time, and
 * the AI SDK may call a model concurrently.
 */
export class SerialLock {
  private tail: Promise<void> = Promise.resolve();

  /**
   * Resolves to a release function once every earlier holder has released. When `signal` aborts
   * first (or has already aborted), rejects at once with its abort error and holds nothing: the
   * holders behind it do not wait for it.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => held);
    return new Promise((resolve, reject) => {
      const leave = () => {
        release();
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', leave, { once: true });
      void previous.then(() => {
        signal?.removeEventListener('abort', leave);
        resolve(release); // a no-op once it left
      });
    });
  }
}

const locks = new WeakMap<object, SerialLock>();

/** The one lock of an engine, shared by every model over it. */
export function lockOf(engine: object): SerialLock {
  let lock = locks.get(engine);
  if (!lock) {
    lock = new SerialLock();
    locks.set(engine, lock);
  }
  return lock;
}
