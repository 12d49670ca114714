import type { OutputPlacement } from '@treespec/onnx';
import type * as OrtWeb from 'onnxruntime-web';
import { ModelLoadError, providerUnavailable } from './errors.js';
import type { WebExecutionProvider } from './execution-provider.js';

/** The onnxruntime-web module (either build: they share one API). */
export type OrtModule = typeof OrtWeb;

/** Where onnxruntime-web finds its `.wasm` (and `.mjs` loader) files: a URL prefix, or one URL per file. */
export type WasmPaths = string | { mjs?: string; wasm?: string };

/** How the runtime of a provider is set up; fixed once its WebAssembly module has started. */
export interface RuntimeSetup {
  /** Threads of the WebAssembly thread pool (see `wasmThreads`). */
  threads: number;
  /** Default: next to the onnxruntime-web script, where bundlers such as Vite put the files. */
  wasmPaths?: WasmPaths;
}

const runtimes = new Map<WebExecutionProvider, Promise<OrtModule>>();

/**
 * Imports the onnxruntime-web build for a provider, once: `onnxruntime-web/webgpu` (the native
 * WebGPU execution provider) or `onnxruntime-web/wasm` (CPU only, the smaller and faster module
 * for WASM). Each is downloaded only when asked for. The first call's setup holds for the life of
 * the page or worker, as onnxruntime-web's own `env.wasm` does.
 */
export function loadRuntime(provider: WebExecutionProvider, setup: RuntimeSetup): Promise<OrtModule> {
  let runtime = runtimes.get(provider);
  if (!runtime) {
    const imported: Promise<OrtModule> =
      provider === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm');
    runtime = imported.then((ort) => {
      ort.env.wasm.numThreads = setup.threads;
      ort.env.wasm.proxy = false;
      if (setup.wasmPaths !== undefined) ort.env.wasm.wasmPaths = setup.wasmPaths;
      return ort;
    });
    runtime.catch(() => runtimes.delete(provider));
    runtimes.set(provider, runtime);
  }
  return runtime;
}

/** One model file with its external data, in memory. */
export interface ModelBytes {
  /** URL of the `.onnx` file, for messages. */
  url: string;
  bytes: Uint8Array;
  /** External data files, each under the `location` the `.onnx` file gives it. */
  externalData: { path: string; data: Uint8Array }[];
}

/** Options of {@link createWebSession}. */
export interface WebSessionOptions {
  provider: WebExecutionProvider;
  /** Threads inside one operator; at most the pool's threads. */
  intraOpNumThreads?: number;
  /** Default `all`. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle pool threads spin instead of sleeping. Default false: on a 2-core machine spinning
   * threads took the core the other model's calls needed (measured in Chromium, 2 threads, 5
   * prompts: 132 → 155 speculative tokens/s and 235 → 270 plain tokens/s once spinning was off).
   */
  spinning?: boolean;
  /**
   * Where ONNX Runtime leaves each named output (`preferredOutputLocation`; others stay on the
   * host). Honoured on `webgpu`, where a `gpu-buffer` output stays on the device as a tensor that
   * later calls of any session of the page can take as an input, until it is disposed. Left out on
   * `wasm`, whose outputs are host memory anyway and whose build has no GPU buffers to give.
   */
  outputs?: OutputPlacement;
}

/**
 * Opens a model from memory with onnxruntime-web. A provider that cannot start becomes a
 * {@link ProviderUnavailableError}; a model ONNX Runtime rejects, a {@link ModelLoadError}.
 */
export async function createWebSession(
  ort: OrtModule,
  model: ModelBytes,
  options: WebSessionOptions,
): Promise<OrtWeb.InferenceSession> {
  const sessionOptions: OrtWeb.InferenceSession.SessionOptions = {
    executionProviders: [options.provider],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    externalData: model.externalData,
    ...(options.spinning
      ? {}
      : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
    ...(options.intraOpNumThreads !== undefined ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    ...(options.provider === 'webgpu' ? { logSeverityLevel: 3 as const } : {}),
    ...(options.provider === 'webgpu' && options.outputs
      ? { preferredOutputLocation: { ...options.outputs } }
      : {}),
  };
  try {
    return await ort.InferenceSession.create(model.bytes, sessionOptions);
  } catch (error) {
    const message = String((error as Error)?.message ?? error);
    if (/no available backend/i.test(message)) {
      throw providerUnavailable(
        options.provider,
        options.provider === 'webgpu'
          ? `onnxruntime-web could not start WebGPU (${message})`
          : `onnxruntime-web could not start its WebAssembly module (${message}); check that its .wasm and ` +
              '.mjs files are served where options.wasmPaths (or the bundler) says',
        error,
      );
    }
    if (options.provider === 'webgpu' && /webgpu|adapter|device/i.test(message)) {
      throw providerUnavailable('webgpu', message, error);
    }
    throw new ModelLoadError(
      model.url,
      `ONNX Runtime (${options.provider}) could not load the model: ${message}`,
      error,
    );
  }
}

/**
 * A view of a session whose `run` first lets the event loop run other tasks. onnxruntime-web's
 * WASM runs settle as microtasks, so without this a whole generation is one long task: a worker
 * could not receive an abort message, and a page could not paint, until it ended. The yield is a
 * posted message (about 0.05 ms), not a timer, which browsers delay by 1–4 ms.
 */
export function yieldingSession(
  session: OrtWeb.InferenceSession,
  yieldNow: () => Promise<void> = yieldToEventLoop,
): OrtWeb.InferenceSession {
  const view = Object.create(session) as OrtWeb.InferenceSession;
  const run = session.run.bind(session) as (
    ...args: unknown[]
  ) => Promise<OrtWeb.InferenceSession.ReturnType>;
  view.run = (async (...args: unknown[]) => {
    await yieldNow();
    return run(...args);
  }) as OrtWeb.InferenceSession['run'];
  return view;
}

/**
 * Runs tasks one at a time, in the order they were queued; a task that fails does not stop the
 * next. onnxruntime-web 1.30's WebGPU build (its asyncify `.wasm`) cannot run two sessions' calls
 * at once: in Chromium 156 on SwiftShader, a compaction `run` started while the target's was in
 * flight failed with "RuntimeError: memory access out of bounds" inside the `.wasm`, and neither
 * promise settled. A device-resident KV cache starts its compaction at commit without waiting,
 * so the next drafter call would overlap it.
 */
export class RunQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Starts `task` once every task queued before it has settled; settles as it does. */
  enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A view of a session whose `run` waits its turn in `queue` (see {@link RunQueue}). */
export function queuedSession(session: OrtWeb.InferenceSession, queue: RunQueue): OrtWeb.InferenceSession {
  const view = Object.create(session) as OrtWeb.InferenceSession;
  const run = session.run.bind(session) as (
    ...args: unknown[]
  ) => Promise<OrtWeb.InferenceSession.ReturnType>;
  view.run = ((...args: unknown[]) => queue.enqueue(() => run(...args))) as OrtWeb.InferenceSession['run'];
  return view;
}

const pendingYields: Array<() => void> = [];
let yieldChannel: MessageChannel | null = null;

/** Resolves after the event loop has run the tasks queued before it (a message to itself; setImmediate in Node). */
export function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  if (typeof immediate === 'function') return new Promise((resolve) => void immediate(resolve));
  if (!yieldChannel) {
    yieldChannel = new MessageChannel();
    yieldChannel.port1.onmessage = () => pendingYields.shift()?.();
  }
  const channel = yieldChannel;
  return new Promise((resolve) => {
    pendingYields.push(resolve);
    channel.port2.postMessage(null);
  });
}

/**
 * The `location` under which a `.onnx` file names an external data file: the manifest lists
 * external data relative to itself, while the `.onnx` file names it relative to its own folder.
 */
export function externalDataLocation(modelFile: string, dataFile: string): string {
  const slash = modelFile.lastIndexOf('/');
  const folder = slash >= 0 ? modelFile.slice(0, slash + 1) : '';
  return folder && dataFile.startsWith(folder) ? dataFile.slice(folder.length) : dataFile;
}
