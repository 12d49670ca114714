import { describe, expect, it } from 'vitest';
import { SerialLock } from './serial-lock.js';

/** Settles with the promise, or rejects after `ms` so that a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('SerialLock', () => {
  it('grants holders one at a time in call order', async () => {
    const lock = new SerialLock();
    const order: string[] = [];
    const first = await lock.acquire();
    const second = lock.acquire().then((release) => {
      order.push('second');
      release();
    });
    const third = lock.acquire().then((release) => {
      order.push('third');
      release();
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(order).toEqual([]);
    first();
    await within(Promise.all([second, third]), 5000, 'the waiters');
    expect(order).toEqual(['second', 'third']);
  });

  it('rejects an already-aborted acquire with the reason, holding nothing', async () => {
    const lock = new SerialLock();
    const reason = new Error('gone');
    await expect(lock.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    const release = await within(lock.acquire(), 5000, 'the next acquire');
    release();
  });

  it('takes an aborted waiter out of the queue at once; the ones behind it keep their turn', async () => {
    const lock = new SerialLock();
    const holder = await lock.acquire();
    const controller = new AbortController();
    const aborted = lock.acquire(controller.signal);
    let behindGranted = false;
    const behind = lock.acquire().then((release) => {
      behindGranted = true;
      return release;
    });
    const reason = new Error('stop waiting');
    controller.abort(reason);
    // Rejects while the holder still holds the lock, not when it releases.
    await expect(within(aborted, 5000, 'the aborted waiter')).rejects.toBe(reason);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(behindGranted).toBe(false);
    holder();
    const release = await within(behind, 5000, 'the waiter behind the aborted one');
    release();
  });

  it('ignores an abort after the grant', async () => {
    const lock = new SerialLock();
    const controller = new AbortController();
    const release = await lock.acquire(controller.signal);
    controller.abort();
    let nextGranted = false;
    const next = lock.acquire().then((r) => {
      nextGranted = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(nextGranted).toBe(false);
    release();
    (await within(next, 5000, 'the next acquire'))();
  });
});
