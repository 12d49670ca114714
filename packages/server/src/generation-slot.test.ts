import { describe, expect, it } from 'vitest';
import { ApiError } from './api-error.js';
import { GenerationSlot } from './generation-slot.js';

describe('GenerationSlot', () => {
  it('grants the slot in arrival order, one holder at a time', async () => {
    const slot = new GenerationSlot(4);
    const order: number[] = [];
    const first = await slot.acquire();
    const waiting = [1, 2, 3].map((n) =>
      slot.acquire().then((release) => {
        order.push(n);
        release();
      }),
    );
    expect(slot.waiting).toBe(3);
    expect(slot.running).toBe(true);
    first();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(slot.running).toBe(false);
    expect(slot.waiting).toBe(0);
  });

  it('refuses with a 429 and a Retry-After when the line is full', async () => {
    const slot = new GenerationSlot(1);
    const release = await slot.acquire();
    const queued = slot.acquire();
    const refused = await slot.acquire().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(429);
    expect((refused as ApiError).body().error.type).toBe('rate_limit_error');
    expect(Number((refused as ApiError).headers['retry-after'])).toBeGreaterThanOrEqual(1);
    release();
    (await queued)();
  });

  it('drops a waiter whose signal aborts, and the next one gets the slot', async () => {
    const slot = new GenerationSlot(2);
    const release = await slot.acquire();
    const controller = new AbortController();
    const dropped = slot.acquire(controller.signal).catch((error: Error) => error.message);
    const next = slot.acquire();
    controller.abort(new Error('gone'));
    expect(await dropped).toBe('gone');
    expect(slot.waiting).toBe(1);
    release();
    (await next)();
    expect(slot.running).toBe(false);
  });

  it('refuses waiting and later requests once closed, and a double release frees only once', async () => {
    const slot = new GenerationSlot(2);
    const release = await slot.acquire();
    const waiting = slot.acquire().catch((error: ApiError) => error.status);
    slot.close(new ApiError(503, 'closing'));
    expect(await waiting).toBe(503);
    await expect(slot.acquire()).rejects.toMatchObject({ status: 503 });
    release();
    release();
    expect(slot.running).toBe(false);
  });
});
