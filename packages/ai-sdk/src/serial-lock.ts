/**
 * Runs holders one at a time in call order: a treespec engine runs one generation at a time, and
 * the AI SDK may call a model concurrently.
 */
export class SerialLock {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves to a release function once every earlier holder has released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const granted = this.tail.then(() => release);
    this.tail = this.tail.then(() => held);
    return granted;
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
