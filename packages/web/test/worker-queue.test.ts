import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import type { OnnxCausalLm } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import {
  serveTreespecWorker,
  TreespecWorkerClient,
  type WebTreespec,
  type WorkerLike,
  type WorkerScopeLike,
} from '../src/index.js';
import type { WorkerRequest } from '../src/internal.js';

/** A worker host over the real tiny model (loaded in Node), joined to a client in one process. */
function connect(): TreespecWorkerClient {
  const toHost: Array<(e: { data: unknown }) => void> = [];
  const toPage: Array<(e: { data: unknown }) => void> = [];
  const scope: WorkerScopeLike = {
    postMessage: (message) => {
      const data = structuredClone(message);
      setTimeout(() => {
        for (const l of toPage) l({ data });
      }, 0);
    },
    addEventListener: (_type, listener) => toHost.push(listener),
  };
  const worker: WorkerLike = {
    postMessage: (message: WorkerRequest) => {
      const data = structuredClone(message);
      setTimeout(() => {
        for (const l of toHost) l({ data });
      }, 0);
    },
    addEventListener: ((type: string, listener: (e: { data: unknown }) => void) => {
      if (type === 'message') toPage.push(listener);
    }) as WorkerLike['addEventListener'],
  };
  const load = async () => {
    const generator = await loadTreespec(tinyModelDirectory());
    const target = generator.target as OnnxCausalLm;
    return { generator, info: {}, kvCacheLocation: () => target.cacheLocation } as unknown as WebTreespec;
  };
  serveTreespecWorker(scope, { load });
  return new TreespecWorkerClient(worker);
}

describe('the treespec worker over the real tiny model', () => {
  it('queues generations started while one runs and answers each with the text it gets alone', async () => {
    const client = connect();
    await client.load('https://x/tiny/');
    const prompts = ['The history of the city begins in', 'Once upon a time', 'The river'];
    const alone = [];
    for (const p of prompts) alone.push((await client.generate(p, { maxTokens: 20 })).text);
    const order: number[] = [];
    const together = await Promise.all(
      prompts.map((p, i) => client.generate(p, { maxTokens: 20, onDelta: () => order.push(i) })),
    );
    expect(together.map((r) => r.text)).toEqual(alone);
    expect(together.map((r) => r.kvCacheLocation)).toEqual(['cpu', 'cpu', 'cpu']);
    expect(order.lastIndexOf(0)).toBeLessThan(order.indexOf(1));
    expect(order.lastIndexOf(1)).toBeLessThan(order.indexOf(2));
    await client.dispose();
  }, 60_000);
});
