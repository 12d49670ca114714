import { AbortError, BusyError, DraftTree, type StepEvent } from '@treespec/core';
import type { TextGenerateOptions } from '@treespec/generator';
import { describe, expect, it, vi } from 'vitest';
import {
  CallLog,
  DownloadError,
  type LoadInfo,
  type LoadProgress,
  type LoadTreespecWebOptions,
  serveTreespecWorker,
  type TreeSnapshot,
  TreespecWorkerClient,
  type WebTreespec,
  type WorkerEvent,
  type WorkerLike,
  WorkerProtocolError,
  type WorkerRequest,
  type WorkerScopeLike,
} from '../src/internal.js';

/** A generator that writes "w1 w2 …", one word per step, drafting a two-node tree each time. */
class ScriptedGenerator {
  disposed = 0;
  /** Where its "model calls" go (one two-row target call a step), when loaded with `logCalls`. */
  calls: CallLog | null = null;
  /** Where its "KV cache" is: on the host until a generation, then where the loader put it. */
  cacheLocation = 'cpu';
  generatedCacheLocation = 'gpu-buffer';
  readonly tokenizer = { decode: (ids: ArrayLike<number>) => `w${ids[0]}` };

  stream(_prompt: unknown, options: TextGenerateOptions) {
    const max = options.maxTokens ?? 8;
    const calls = this.calls;
    const scripted = this;
    const tree = new DraftTree(4);
    let text = '';
    let finishReason: 'length' | 'abort' = 'length';
    let resolveResult!: (r: unknown) => void;
    const result = new Promise((resolve) => {
      resolveResult = resolve;
    });
    async function* deltas() {
      let n = 0;
      for (; n < max; n++) {
        await new Promise((r) => setTimeout(r, 1));
        if (options.signal?.aborted) {
          finishReason = 'abort';
          break;
        }
        tree.reset(n);
        tree.add(0, n + 1, -0.5);
        calls?.record('target', 2, 1.5);
        const event: StepEvent = {
          step: n,
          tree,
          path: Int32Array.from([0, 1]),
          pathLength: 2,
          bonusToken: 7,
        };
        options.onStep?.(event);
        const delta = ` w${n + 1}`;
        text += delta;
        yield delta;
      }
      scripted.cacheLocation = scripted.generatedCacheLocation;
      resolveResult({
        text,
        tokens: Int32Array.from({ length: n }, (_, i) => i + 1),
        promptTokens: new Int32Array(3),
        finishReason,
        stats: { tau: 2, tokensPerSecond: 100, generatedTokens: n, steps: n },
      });
    }
    return { result, [Symbol.asyncIterator]: deltas };
  }

  async dispose() {
    this.disposed++;
  }
}

const INFO = { provider: 'wasm', threads: 2 } as unknown as LoadInfo;

/** A loader: `missing` 404s, `slow` waits for its abort, anything else loads a ScriptedGenerator. */
function fakeLoader(generators: ScriptedGenerator[]) {
  return async (url: string | URL, options: LoadTreespecWebOptions = {}): Promise<WebTreespec> => {
    const href = String(url);
    options.onProgress?.({ loaded: 5, total: 10, fraction: 0.5, downloaded: 5, files: [] });
    if (href.includes('missing')) {
      throw new DownloadError({ url: `${href}treespec.json`, reason: 'http', status: 404 });
    }
    if (href.includes('slow')) {
      await new Promise((resolve) => options.signal?.addEventListener('abort', resolve));
      throw new AbortError(`loading ${href} was aborted`);
    }
    const generator = new ScriptedGenerator();
    generator.calls = options.logCalls ? new CallLog() : null;
    generators.push(generator);
    if (href.includes('wasm')) generator.generatedCacheLocation = 'cpu';
    return {
      generator,
      info: INFO,
      calls: generator.calls,
      kvCacheLocation: () => generator.cacheLocation,
    } as unknown as WebTreespec;
  };
}

/** A worker and its scope joined in one process; messages are cloned as postMessage would. */
function connect(generators: ScriptedGenerator[] = [], postCostMs = 0) {
  const toHost: Array<(e: { data: unknown }) => void> = [];
  const toPage: Array<(e: { data: unknown }) => void> = [];
  const sent: WorkerEvent[] = [];
  const scope: WorkerScopeLike = {
    postMessage: (message) => {
      const start = performance.now();
      while (performance.now() - start < postCostMs) {
        // a slow boundary: postMessage takes postCostMs
      }
      sent.push(message);
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
  serveTreespecWorker(scope, { load: fakeLoader(generators) });
  return { client: new TreespecWorkerClient(worker), worker, sent, generators };
}

describe('the treespec worker', () => {
  it('loads with progress, then streams deltas, trees and stats and ends with the result', async () => {
    const { client } = connect();
    const progress: LoadProgress[] = [];
    expect(await client.load('https://x/models/tiny/', { onProgress: (p) => progress.push(p) })).toEqual(
      INFO,
    );
    expect(progress.map((p) => p.fraction)).toEqual([0.5]);
    const deltas: string[] = [];
    const trees: TreeSnapshot[] = [];
    let statsEvents = 0;
    const result = await client.generate('Once', {
      maxTokens: 3,
      statsIntervalMs: 0,
      onDelta: (t) => deltas.push(t),
      onStep: (t) => trees.push(t),
      onStats: () => statsEvents++,
    });
    expect(deltas.join('')).toBe(' w1 w2 w3');
    expect(result).toMatchObject({
      text: ' w1 w2 w3',
      tokens: [1, 2, 3],
      promptTokens: 3,
      finishReason: 'length',
    });
    expect(trees.map((t) => [t.tokens, t.labels, t.path, t.bonusLabel])).toEqual([
      [[0, 1], ['w0', 'w1'], [0, 1], 'w7'],
      [[1, 2], ['w1', 'w2'], [0, 1], 'w7'],
      [[2, 3], ['w2', 'w3'], [0, 1], 'w7'],
    ]);
    expect(statsEvents).toBe(3);
  });

  it('streams deltas like TextGenerator.stream, with the same result as generate', async () => {
    const { client } = connect();
    await client.load('https://x/m/');
    const stream = client.stream('Once', { maxTokens: 3 });
    const deltas: string[] = [];
    for await (const delta of stream) deltas.push(delta);
    expect(deltas).toEqual([' w1', ' w2', ' w3']);
    const result = await stream.result;
    expect(result.text).toBe(deltas.join(''));
    const generated = await client.generate('Once', { maxTokens: 3 });
    // The same but for the time the worker spent posting, which varies from run to run.
    expect({ ...result, postMs: 0 }).toEqual({ ...generated, postMs: 0 });
  });

  it('rejects the stream, and its result, when the generation fails', async () => {
    const { client } = connect();
    const stream = client.stream('Once');
    await expect(
      (async () => {
        for await (const _ of stream) {
          // nothing arrives before the failure
        }
      })(),
    ).rejects.toBeInstanceOf(WorkerProtocolError);
    await expect(stream.result).rejects.toBeInstanceOf(WorkerProtocolError);
  });

  it('reports the time it spent posting trees, text and statistics to the page', async () => {
    const { client, sent } = connect([], 2);
    await client.load('https://x/m/');
    const before = sent.length;
    const result = await client.generate('Once', { maxTokens: 3, statsIntervalMs: 0, onStep: () => {} });
    const posted = sent.slice(before).filter((e) => e.type !== 'done');
    expect(posted.map((e) => e.type).sort()).toEqual([
      'delta',
      'delta',
      'delta',
      'stats',
      'stats',
      'stats',
      'step',
      'step',
      'step',
    ]);
    expect(result.postMs).toBeGreaterThanOrEqual(2 * posted.length);
    expect(result.postMs).toBeLessThan(2 * posted.length + 200);
  });

  it('returns each generation its own model calls when loaded with logCalls, and none otherwise', async () => {
    const { client } = connect();
    await client.load('https://x/m/', { logCalls: true });
    await client.generate('Once', { maxTokens: 3 });
    const second = await client.generate('Once', { maxTokens: 2 });
    expect(second.calls).toEqual({ model: ['target', 'target'], rows: [2, 2], ms: [1.5, 1.5] });
    await client.load('https://x/m/');
    expect((await client.generate('Once', { maxTokens: 2 })).calls).toBeUndefined();
  });

  it("reports where the target's KV cache was at the end of each generation, as the loaded model tells it", async () => {
    const { client } = connect();
    await client.load('https://x/webgpu/');
    expect((await client.generate('Once', { maxTokens: 2 })).kvCacheLocation).toBe('gpu-buffer');
    await client.load('https://x/wasm/');
    expect((await client.generate('Once', { maxTokens: 2 })).kvCacheLocation).toBe('cpu');
  });

  it('sends at most one tree per treeIntervalMs, and always the last one, before the result', async () => {
    const { client, sent } = connect();
    await client.load('https://x/m/');
    const trees: TreeSnapshot[] = [];
    const before = sent.length;
    await client.generate('Once', { maxTokens: 5, treeIntervalMs: 60_000, onStep: (t) => trees.push(t) });
    expect(trees.map((t) => [t.step, t.tokens, t.path, t.bonusLabel])).toEqual([
      [0, [0, 1], [0, 1], 'w7'],
      [4, [4, 5], [0, 1], 'w7'],
    ]);
    const order = sent.slice(before).map((e) => e.type);
    expect(order.lastIndexOf('step')).toBeLessThan(order.indexOf('done'));
  });

  it('sends no trees unless asked for them', async () => {
    const { client, sent } = connect();
    await client.load('https://x/m/');
    await client.generate('Once', { maxTokens: 2 });
    expect(sent.filter((e) => e.type === 'step')).toEqual([]);
  });

  it('ends an aborted generation with finish reason abort and the text so far, and stays usable', async () => {
    const { client } = connect();
    await client.load('https://x/m/');
    const controller = new AbortController();
    const result = await client.generate('Once', {
      maxTokens: 1000,
      signal: controller.signal,
      onDelta: (t) => {
        if (t === ' w2') controller.abort();
      },
    });
    expect(result.finishReason).toBe('abort');
    expect(result.text.startsWith(' w1 w2')).toBe(true);
    expect((await client.generate('Again', { maxTokens: 2 })).text).toBe(' w1 w2');
  });

  it('ends the generation when the reader breaks out of the stream, and stays usable', async () => {
    const { client } = connect();
    await client.load('https://x/m/');
    const stream = client.stream('Once', { maxTokens: 1000 });
    for await (const delta of stream) if (delta === ' w2') break;
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.tokens.length).toBeLessThan(1000);
    expect((await client.generate('Again', { maxTokens: 2 })).text).toBe(' w1 w2');
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(TypeError);
  });

  it('refuses a stats or tree interval that is not a number, and generates after it', async () => {
    const { client } = connect();
    await client.load('https://x/m/');
    const options = { maxTokens: 2, statsIntervalMs: 'fast' } as unknown as Parameters<
      typeof client.generate
    >[1];
    await expect(client.generate('Once', options)).rejects.toThrow(
      /option "statsIntervalMs" must be a finite number/,
    );
    expect((await client.generate('Once', { maxTokens: 2 })).text).toBe(' w1 w2');
  });

  it('resolves wasmPaths against the page, in either form, before they cross to the worker', () => {
    vi.stubGlobal('location', { href: 'https://page.example/app/index.html' });
    try {
      const posted: WorkerRequest[] = [];
      const worker: WorkerLike = {
        postMessage: (message: WorkerRequest) => posted.push(message),
        addEventListener: (() => {}) as WorkerLike['addEventListener'],
      };
      const client = new TreespecWorkerClient(worker);
      void client.load('models/tiny/', { wasmPaths: 'ort/' });
      void client.load('models/tiny/', { wasmPaths: { wasm: 'ort/ort.wasm', mjs: '/ort/ort.mjs' } });
      expect(posted.map((r) => (r.type === 'load' ? r.options?.wasmPaths : null))).toEqual([
        'https://page.example/app/ort/',
        { wasm: 'https://page.example/app/ort/ort.wasm', mjs: 'https://page.example/ort/ort.mjs' },
      ]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('stops a worker that failed (an error event), rejecting what was pending and every later request', async () => {
    const listeners: Record<string, Array<(event: { message?: string; data?: unknown }) => void>> = {};
    let terminated = 0;
    const worker: WorkerLike = {
      postMessage: () => {},
      addEventListener: ((type: string, listener: (event: { message?: string }) => void) => {
        listeners[type] = [...(listeners[type] ?? []), listener];
      }) as WorkerLike['addEventListener'],
      terminate: () => {
        terminated++;
      },
    };
    const client = new TreespecWorkerClient(worker);
    const pending = client.generate('Once');
    expect(client.failed).toBe(false);
    for (const listener of listeners.error ?? []) listener({ message: 'out of memory' });
    await expect(pending).rejects.toThrow('the treespec worker failed: out of memory');
    expect(terminated).toBe(1);
    expect(client.failed).toBe(true);
    await expect(client.generate('Again')).rejects.toThrow('the treespec worker failed: out of memory');
  });

  it('rejects a failed load with the DownloadError rebuilt on the page', async () => {
    const { client } = connect();
    const error = await client.load('https://x/missing/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect(error).toMatchObject({ status: 404, url: 'https://x/missing/treespec.json', reason: 'http' });
    expect(await client.load('https://x/m/')).toEqual(INFO);
  });

  it('rejects an aborted load with AbortError, and loads again afterwards', async () => {
    const { client } = connect();
    const controller = new AbortController();
    const pending = client.load('https://x/slow/', {
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    const error = await pending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ code: 'ABORTED' });
    expect(await client.load('https://x/m/')).toEqual(INFO);
  });

  it('refuses to generate before a load, and to load while a generation runs', async () => {
    const { client } = connect();
    await expect(client.generate('Once')).rejects.toBeInstanceOf(WorkerProtocolError);
    await client.load('https://x/m/');
    const first = client.generate('Once', { maxTokens: 20 });
    await new Promise((r) => setTimeout(r, 5));
    await expect(client.load('https://x/n/')).rejects.toBeInstanceOf(BusyError);
    expect((await first).finishReason).toBe('length');
  });

  it('disposes the previous model when another is loaded, and on dispose', async () => {
    const { client, generators } = connect();
    await client.load('https://x/a/');
    await client.load('https://x/b/');
    expect(generators.map((g) => g.disposed)).toEqual([1, 0]);
    await client.dispose();
    expect(generators.map((g) => g.disposed)).toEqual([1, 1]);
    await expect(client.generate('Once')).rejects.toThrow('send "load" first');
  });

  it('answers a malformed request with a protocol error under its id', async () => {
    const { worker, sent } = connect();
    worker.postMessage({ type: 'start', id: 9, prompt: 5 } as unknown as WorkerRequest);
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: 'error',
      id: 9,
      error: { name: 'WorkerProtocolError', code: 'CONTRACT' },
    });
  });
});
