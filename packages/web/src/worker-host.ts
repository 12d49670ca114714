import { BusyError, requireBoolean, requireNumber } from '@treespec/core';
import { WorkerProtocolError } from './errors.js';
import { LatestStep } from './latest-step.js';
import { loadTreespecWeb, type WebTreespec } from './load-treespec-web.js';
import {
  type LiveStats,
  parseWorkerRequest,
  requestId,
  serializeError,
  treeSnapshot,
  type WorkerEvent,
  type WorkerGenerateOptions,
  type WorkerRequest,
} from './worker-protocol.js';

/** The part of a worker's global scope the host uses (a `DedicatedWorkerGlobalScope`, or a fake in tests). */
export interface WorkerScopeLike {
  postMessage(message: WorkerEvent): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** Options of {@link serveTreespecWorker}. */
export interface WorkerHostOptions {
  /** The loader to use. Default {@link loadTreespecWeb}. */
  load?: typeof loadTreespecWeb;
}

/**
 * Runs the treespec side of the worker protocol in a Web Worker: loads one model bundle at a
 * time, generates one text at a time (later `start`s wait their turn in order, as the generator
 * queues them), streams text deltas, draft trees and live statistics, and aborts on request. Call it once in the worker's module:
 *
 * ```ts
 * // worker.ts
 * import { serveTreespecWorker } from '@treespec/web';
 * serveTreespecWorker();
 * ```
 */
export function serveTreespecWorker(
  scope: WorkerScopeLike = globalThis as unknown as WorkerScopeLike,
  options: WorkerHostOptions = {},
): void {
  const load = options.load ?? loadTreespecWeb;
  const running = new Map<number, AbortController>();
  let bundle: WebTreespec | null = null;
  let loading: Promise<unknown> | null = null;
  let generating = 0;
  const post = (event: WorkerEvent) => scope.postMessage(event);
  const fail = (id: number, error: unknown) => post({ type: 'error', id, error: serializeError(error) });

  async function handleLoad(request: Extract<WorkerRequest, { type: 'load' }>): Promise<void> {
    const { id } = request;
    if (generating || loading) throw new BusyError('the treespec worker');
    const controller = new AbortController();
    running.set(id, controller);
    const previous = bundle;
    bundle = null;
    const task = (async () => {
      await previous?.generator.dispose();
      bundle = await load(request.modelUrl, {
        ...request.options,
        signal: controller.signal,
        onProgress: (progress) => post({ type: 'progress', id, progress }),
      });
      post({ type: 'loaded', id, info: bundle.info });
    })();
    loading = task;
    try {
      await task;
    } finally {
      loading = null;
      running.delete(id);
    }
  }

  async function handleStart(request: Extract<WorkerRequest, { type: 'start' }>): Promise<void> {
    const { id } = request;
    if (loading) throw new BusyError('the treespec worker');
    if (!bundle) throw new WorkerProtocolError('"start" came before a model was loaded; send "load" first');
    const { generator, calls, kvCacheLocation } = bundle;
    const {
      trees = false,
      treeIntervalMs = 0,
      statsIntervalMs = 100,
      ...generateOptions
    } = (request.options ?? {}) as WorkerGenerateOptions;
    // A string interval would compare false forever and silence every tree or statistics message.
    requireBoolean('trees', trees);
    requireNumber('treeIntervalMs', treeIntervalMs, { min: 0 });
    requireNumber('statsIntervalMs', statsIntervalMs, { min: 0 });
    const controller = new AbortController();
    running.set(id, controller);
    generating++;
    const labels = new Map<number, string>();
    const label = (token: number): string => {
      let text = labels.get(token);
      if (text === undefined) {
        text = generator.tokenizer.decode([token], { skipSpecialTokens: false });
        labels.set(token, text);
      }
      return text;
    };
    const started = performance.now();
    let lastStats = Number.NEGATIVE_INFINITY;
    let lastTree = Number.NEGATIVE_INFINITY;
    const skipped = new LatestStep();
    // Time spent turning trees, text and statistics into messages for the page.
    let postMs = 0;
    const timedPost = (make: () => WorkerEvent) => {
      const t0 = performance.now();
      post(make());
      postMs += performance.now() - t0;
    };
    calls?.reset();
    const live: LiveStats = { generatedTokens: 0, steps: 0, tau: 0, tokensPerSecond: 0, elapsedMs: 0 };
    try {
      const stream = generator.stream(request.prompt, {
        ...generateOptions,
        signal: controller.signal,
        onStep: (event) => {
          live.steps++;
          live.generatedTokens += event.pathLength;
          const now = performance.now();
          if (trees && now - lastTree >= treeIntervalMs) {
            lastTree = now;
            skipped.held = false;
            timedPost(() => ({ type: 'step', id, tree: treeSnapshot(event, label) }));
          } else if (trees) {
            skipped.keep(event);
          }
          if (now - lastStats >= statsIntervalMs) {
            lastStats = now;
            live.elapsedMs = now - started;
            live.tau = live.generatedTokens / live.steps;
            live.tokensPerSecond = (live.generatedTokens * 1000) / Math.max(live.elapsedMs, 1e-3);
            timedPost(() => ({ type: 'stats', id, stats: { ...live } }));
          }
        },
      });
      for await (const text of stream) if (text) timedPost(() => ({ type: 'delta', id, text }));
      const result = await stream.result;
      if (skipped.held) timedPost(() => ({ type: 'step', id, tree: treeSnapshot(skipped.take(), label) }));
      post({
        type: 'done',
        id,
        result: {
          text: result.text,
          tokens: Array.from(result.tokens),
          promptTokens: result.promptTokens.length,
          finishReason: result.finishReason,
          stats: result.stats,
          postMs,
          ...(calls ? { calls: calls.toJSON() } : {}),
          kvCacheLocation: kvCacheLocation(),
        },
      });
    } finally {
      generating--;
      running.delete(id);
    }
  }

  async function handle(data: unknown): Promise<void> {
    let request: WorkerRequest;
    try {
      request = parseWorkerRequest(data);
    } catch (error) {
      fail(requestId(data), error);
      return;
    }
    try {
      if (request.type === 'abort') running.get(request.id)?.abort();
      else if (request.type === 'load') await handleLoad(request);
      else if (request.type === 'start') await handleStart(request);
      else {
        if (generating || loading) throw new BusyError('the treespec worker');
        const previous = bundle;
        bundle = null;
        await previous?.generator.dispose();
        post({ type: 'disposed', id: request.id });
      }
    } catch (error) {
      fail(request.id, error);
    }
  }

  scope.addEventListener('message', (event) => {
    void handle(event.data);
  });
}
