import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { yieldingSession, yieldToEventLoop } from '../src/internal.js';

describe('yieldingSession', () => {
  it('lets tasks queued before a run happen before it, so a worker can take an abort message mid-generation', async () => {
    const order: string[] = [];
    const session = {
      inputNames: ['input_ids'],
      run: async (feeds: Record<string, unknown>) => {
        order.push(`run ${Object.keys(feeds).join()}`);
        return {};
      },
      release: async () => {
        order.push('release');
      },
    };
    const view = yieldingSession(session as unknown as InferenceSession);
    setImmediate(() => order.push('queued task'));
    await view.run({ input_ids: null } as never);
    await view.release();
    expect(order).toEqual(['queued task', 'run input_ids', 'release']);
    expect(view.inputNames).toEqual(['input_ids']);
  });

  it('resolves each yield once, in order', async () => {
    const done: number[] = [];
    await Promise.all([1, 2, 3].map((i) => yieldToEventLoop().then(() => done.push(i))));
    expect(done).toEqual([1, 2, 3]);
  });
});
