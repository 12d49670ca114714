import type { TextGeneration, TextGenerationStream } from '@treespec/generator';
import type { ChatMessage } from '@treespec/tokenizers';
import type { LoadInfo } from './load-treespec-web.js';
import type { LoadProgress } from './progress.js';
import {
  deserializeError,
  type LiveStats,
  parseWorkerEvent,
  type TreeSnapshot,
  type WorkerEvent,
  type WorkerGenerateOptions,
  type WorkerLoadOptions,
  type WorkerRequest,
  type WorkerResult,
} from './worker-protocol.js';

/** The part of a `Worker` the client uses. */
export interface WorkerLike {
  postMessage(message: WorkerRequest): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'error', listener: (event: { message?: string }) => void): void;
  terminate?(): void;
}

/** Options of {@link TreespecWorkerClient.load}. */
export interface ClientLoadOptions extends WorkerLoadOptions {
  onProgress?: (progress: LoadProgress) => void;
  /** Aborting rejects the load with an `AbortError` (code `ABORTED`); the worker stays usable. */
  signal?: AbortSignal;
}

/** Options of {@link TreespecWorkerClient.generate}. */
export interface ClientGenerateOptions extends WorkerGenerateOptions {
  /** Text as it is committed. */
  onDelta?: (text: string) => void;
  /** Each verified draft tree, or one per `treeIntervalMs` and the last (turns on `trees`). */
  onStep?: (tree: TreeSnapshot) => void;
  /** Running statistics, at most every `statsIntervalMs`. */
  onStats?: (stats: LiveStats) => void;
  /** Aborting ends the generation with finish reason `abort` and the text so far. */
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onEvent?: (event: WorkerEvent) => void;
}

/**
 * The page's side of the treespec worker: sends requests, routes the answers, and rebuilds the
 * worker's errors as their own classes (`DownloadError`, `AbortError`, …).
 *
 * ```ts
 * const client = new TreespecWorkerClient(new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' }));
 * const info = await client.load('/models/tiny/', { onProgress: (p) => bar.value = p.fraction ?? 0 });
 * const result = await client.generate('Once upon a time', { maxTokens: 64, onDelta: (t) => out.append(t) });
 * ```
 */
export class TreespecWorkerClient implements TextGeneration<ClientGenerateOptions, WorkerResult> {
  private readonly worker: WorkerLike;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashed: Error | null = null;

  constructor(worker: WorkerLike) {
    this.worker = worker;
    worker.addEventListener('message', (event: { data: unknown }) => this.receive(event.data));
    worker.addEventListener('error', (event: { message?: string }) => {
      // A worker in an unknown state may still be generating and holds its sessions: it is
      // stopped, and a page that goes on makes a new client (see `failed`).
      this.terminate(new Error(`the treespec worker failed: ${event.message ?? 'unknown error'}`));
    });
  }

  /** Whether the worker failed or was terminated: every request is refused, make a new client. */
  get failed(): boolean {
    return this.crashed !== null;
  }

  /** Loads a model bundle in the worker (replacing any loaded one); resolves with what the load did. */
  load(modelUrl: string | URL, options: ClientLoadOptions = {}): Promise<LoadInfo> {
    const { onProgress, signal, ...rest } = options;
    const workerOptions: WorkerLoadOptions = { ...rest };
    // Relative to the page, as the README says, not to the worker's script.
    const paths = rest.wasmPaths;
    if (typeof paths === 'string') workerOptions.wasmPaths = absolute(paths);
    else if (paths) {
      workerOptions.wasmPaths = {
        ...(paths.mjs !== undefined ? { mjs: absolute(paths.mjs) } : {}),
        ...(paths.wasm !== undefined ? { wasm: absolute(paths.wasm) } : {}),
      };
    }
    return this.request(
      (id) => ({ type: 'load', id, modelUrl: absolute(modelUrl), options: workerOptions }),
      signal,
      (event) => {
        if (event.type === 'progress') onProgress?.(event.progress);
      },
    ) as Promise<LoadInfo>;
  }

  /** Generates in the worker, streaming through the callbacks; resolves with the finished result. */
  generate(
    prompt: string | readonly ChatMessage[],
    options: ClientGenerateOptions = {},
  ): Promise<WorkerResult> {
    const { onDelta, onStep, onStats, signal, ...rest } = options;
    const workerOptions: WorkerGenerateOptions = { ...rest, trees: rest.trees ?? onStep !== undefined };
    return this.request(
      (id) => ({
        type: 'start',
        id,
        prompt: typeof prompt === 'string' ? prompt : [...prompt],
        options: workerOptions,
      }),
      signal,
      (event) => {
        if (event.type === 'delta') onDelta?.(event.text);
        else if (event.type === 'step') onStep?.(event.tree);
        else if (event.type === 'stats') onStats?.(event.stats);
      },
    ) as Promise<WorkerResult>;
  }

  /**
   * Generates in the worker and yields the text as it is committed, as `TextGenerator.stream`
   * does in the page; `result` settles with the finished result (the callbacks still fire).
   * Breaking out of the iteration ends the generation (its result then has finish reason
   * `abort`); a second iteration throws a `TypeError`.
   */
  stream(
    prompt: string | readonly ChatMessage[],
    options: ClientGenerateOptions = {},
  ): TextGenerationStream<WorkerResult> {
    const queued: string[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let iterated = false;
    // The caller's signal stops the generation as this stream's own does (not AbortSignal.any,
    // which refuses a polyfill's signals in browsers).
    const stop = new AbortController();
    const caller = options.signal;
    const onCallerAbort = () => stop.abort();
    if (caller?.aborted) stop.abort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    const result = this.generate(prompt, {
      ...options,
      signal: stop.signal,
      onDelta: (text) => {
        options.onDelta?.(text);
        queued.push(text);
        wake?.();
      },
    });
    const end = () => {
      ended = true;
      caller?.removeEventListener('abort', onCallerAbort);
      wake?.();
    };
    result.then(end, end);
    async function* deltas(): AsyncGenerator<string, void, undefined> {
      if (iterated) throw new TypeError('a text stream can be iterated only once');
      iterated = true;
      try {
        for (;;) {
          const next = queued.shift();
          if (next !== undefined) yield next;
          else if (ended) {
            await result;
            return;
          } else {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
          }
        }
      } finally {
        // A reader that stopped early (`break`, a throw in its loop) ends the generation.
        if (!ended) stop.abort();
      }
    }
    return { result, [Symbol.asyncIterator]: deltas };
  }

  /** Releases the loaded model's sessions in the worker. */
  async dispose(): Promise<void> {
    await this.request((id) => ({ type: 'dispose', id }));
  }

  /** Stops the worker at once; pending and later requests reject (with `reason`). */
  terminate(reason: Error = new Error('the treespec worker was terminated')): void {
    this.worker.terminate?.();
    this.crashed = reason;
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }

  private request(
    make: (id: number) => WorkerRequest,
    signal?: AbortSignal,
    onEvent?: (event: WorkerEvent) => void,
  ): Promise<unknown> {
    if (this.crashed) return Promise.reject(this.crashed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const abort = () => this.worker.postMessage({ type: 'abort', id });
      const settle = () => signal?.removeEventListener('abort', abort);
      this.pending.set(id, {
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
        ...(onEvent ? { onEvent } : {}),
      });
      this.worker.postMessage(make(id));
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
    });
  }

  private receive(data: unknown): void {
    const event = parseWorkerEvent(data);
    const pending = this.pending.get(event.id);
    if (!pending) return;
    if (event.type === 'error') {
      this.pending.delete(event.id);
      pending.reject(deserializeError(event.error));
    } else if (event.type === 'loaded' || event.type === 'done' || event.type === 'disposed') {
      this.pending.delete(event.id);
      pending.resolve(
        event.type === 'loaded' ? event.info : event.type === 'done' ? event.result : undefined,
      );
    } else {
      pending.onEvent?.(event);
    }
  }
}

/** A URL made absolute against the page, so the worker (whose location differs) reads it the same. */
function absolute(url: string | URL): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(url, base).href;
  } catch {
    return String(url);
  }
}
