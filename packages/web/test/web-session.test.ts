import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import {
  createWebSession,
  type OrtModule,
  queuedSession,
  RunQueue,
  yieldingSession,
  yieldToEventLoop,
} from '../src/internal.js';

/** An onnxruntime-web stand-in that records the session options it is given. */
function recordingRuntime(): { ort: OrtModule; options: Record<string, unknown>[] } {
  const options: Record<string, unknown>[] = [];
  const ort = {
    InferenceSession: {
      create: async (_bytes: Uint8Array, given: Record<string, unknown>) => {
        options.push(given);
        return {};
      },
    },
  } as unknown as OrtModule;
  return { ort, options };
}

describe('createWebSession', () => {
  const model = { url: 'https://x/graph.onnx', bytes: new Uint8Array(1), externalData: [] };
  const outputs = { 'kept_key.0': 'gpu-buffer', 'kept_value.0': 'gpu-buffer' } as const;

  it('leaves the outputs it is told to on the WebGPU device, and every output on the host with WASM', async () => {
    const { ort, options } = recordingRuntime();
    await createWebSession(ort, model, { provider: 'webgpu', outputs });
    await createWebSession(ort, model, { provider: 'wasm', outputs });
    await createWebSession(ort, model, { provider: 'webgpu' });
    expect(options[0]).toMatchObject({ executionProviders: ['webgpu'], preferredOutputLocation: outputs });
    expect(options[1]).toMatchObject({ executionProviders: ['wasm'] });
    expect(options[1]).not.toHaveProperty('preferredOutputLocation');
    expect(options[2]).not.toHaveProperty('preferredOutputLocation');
  });
});

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

describe('queuedSession', () => {
  it("starts a session's run only once every run queued before it, of any session, has settled, failed ones included", async () => {
    const events: string[] = [];
    let running = 0;
    const session = (name: string, fail = false) =>
      ({
        run: async (feeds: Record<string, unknown>) => {
          running++;
          events.push(`start ${name}${Object.keys(feeds).join()} (${running} running)`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          events.push(`end ${name}`);
          if (fail) throw new Error(`${name} failed`);
          return { name };
        },
      }) as unknown as InferenceSession;
    const queue = new RunQueue();
    const target = queuedSession(session('target') as never, queue);
    const compaction = queuedSession(session('compaction', true) as never, queue);
    const head = queuedSession(session('head') as never, queue);
    const results = await Promise.allSettled([
      target.run({ a: null } as never),
      compaction.run({ b: null } as never),
      head.run({ c: null } as never),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(events).toEqual([
      'start targeta (1 running)',
      'end target',
      'start compactionb (1 running)',
      'end compaction',
      'start headc (1 running)',
      'end head',
    ]);
  });
});
