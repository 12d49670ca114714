import { access, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  ModelLoadError,
  OptionError,
  ProviderUnavailableError,
  requireBoolean,
  requireInteger,
  requireOneOf,
} from '@treespec/core';
import { modelToOpen, type OutputPlacement } from '@treespec/onnx';
import {
  loadOnnxRuntime,
  type OnnxRuntime,
  type OnnxRuntimeSource,
  OnnxRuntimeUnavailableError,
} from '@treespec/onnxruntime';
import type { InferenceSession } from 'onnxruntime-common';
import { cutShortWeights } from './bundle-files.js';
import { targetThreads } from './cpu-cores.js';
import { hasVulkanLoader } from './vulkan-loader.js';

/**
 * Where a model runs. `cpu` always works; `webgpu` needs a GPU (Vulkan on Linux); `cuda` runs on
 * an onnxruntime-node installed with its CUDA libraries (see {@link NodeSessionOptions.onnxRuntime}).
 */
export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda';

/** Options of {@link createSession}. */
export interface NodeSessionOptions {
  /** Default `cpu`. */
  executionProvider?: ExecutionProvider;
  /** When the provider cannot start, run on the CPU instead of failing (reported through `onFallback`). Default false. */
  fallbackToCpu?: boolean;
  /** Called with the reason when `fallbackToCpu` took effect. */
  onFallback?: (error: ProviderUnavailableError) => void;
  /**
   * Threads inside one operator of the target. Default: on Linux the physical cores this process
   * may use, named so that ONNX Runtime does not pin its threads to cores (which it does when it
   * picks the count itself: beside Node's own threads and the drafter's calls, pinned threads made
   * the target's calls slower and erratic, docs/benchmarks.md); elsewhere ONNX Runtime's choice.
   */
  intraOpNumThreads?: number;
  /**
   * Threads inside one operator of a drafter's model (EAGLE head, draft LM). Default 1: a draft
   * model is small, and a second thread pool spinning beside the target's steals its cores.
   */
  drafterThreads?: number;
  /** Threads across operators (only with parallel execution). Default 1. */
  interOpNumThreads?: number;
  /**
   * Let idle intra-op threads spin-wait for the next operator (ONNX Runtime's own default)
   * instead of sleeping. Default true. Without spinning, the drafter's calls between target calls
   * get the cores to themselves, but every target call pays for waking its threads: on the 2-core
   * reference machine plain decoding lost about 22 % and EAGLE-2 about 14 % (docs/benchmarks.md).
   */
  spinning?: boolean;
  /**
   * Let ONNX Runtime plan a call's memory once per set of input shapes and reuse the plan on later
   * calls of the same shapes (its `enableMemPattern`). Default true. Decoding calls the target at
   * a new cache length every step, so a session's first generation plans every call it makes and
   * later ones reuse the plans: a long-lived process (a server, many generations) ran plain
   * decoding 2–5 % faster with plans, a process that generates once about 3 % slower on
   * average, with a wide spread (docs/benchmarks.md). `treespec generate` turns them off.
   */
  memoryPattern?: boolean;
  /** Default `all`. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Which ONNX Runtime runs the models: `bundled`, the binary package of this platform that
   * installs with treespec (CPU; WebGPU where the platform's build has it), or
   * `onnxruntime-node` as the application installed it beside treespec (for CUDA:
   * `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1.30.0`). A process holds one,
   * picked by its first session. Default: `onnxruntime-node` for `cuda`; for the other providers
   * the runtime already loaded, else `bundled`.
   */
  onnxRuntime?: OnnxRuntimeSource;
}

/** Where onnxruntime-node itself is missing: its message says how to install it; this, what CUDA needs beside it. */
const CUDA_RUNTIME_HINT =
  "treespec's bundled ONNX Runtime has no CUDA; CUDA 12 and cuDNN 9 must be on the machine, and onnxruntime-node must be the process's first ONNX Runtime";

/**
 * What to tell a user whose CUDA load found no onnxruntime-node it could use, after `reason`: how to
 * install it with CUDA, unless the reason already says so.
 */
export function cudaHint(reason: string): string {
  return reason.includes('ONNXRUNTIME_NODE_INSTALL') ? CUDA_RUNTIME_HINT : INSTALL_HINTS.cuda;
}

const INSTALL_HINTS: Record<Exclude<ExecutionProvider, 'cpu'>, string> = {
  cuda:
    "treespec's bundled ONNX Runtime has no CUDA; CUDA runs on onnxruntime-node with its CUDA libraries, downloaded " +
    'by its install script when asked: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1.30.0` ' +
    '(CUDA 12 and cuDNN 9 must be on the machine; `npm rebuild onnxruntime-node` with the same variable adds them later). ' +
    "executionProvider 'cuda' then uses it, provided it is the process's first ONNX Runtime",
  webgpu:
    'no WebGPU adapter could be created. onnxruntime-node runs WebGPU through Dawn, which on Linux needs a GPU with a ' +
    "Vulkan driver (without one, Mesa's software lavapipe from mesa-vulkan-drivers 23 or later) and the Vulkan loader " +
    "(libvulkan.so.1, Debian package libvulkan1). NVIDIA's Vulkan driver also needs libglvnd (libGLdispatch.so.0, " +
    'package libglvnd0; without it the Vulkan loader finds no drivers), and in a container the NVIDIA runtime ' +
    'must mount its graphics libraries (NVIDIA_DRIVER_CAPABILITIES including graphics). Use executionProvider "cpu" elsewhere.',
};

/**
 * Opens an ONNX model (its path, or its bytes for a graph built in memory) with onnxruntime-node
 * on the chosen execution provider. External data files next to the model are found by ONNX
 * Runtime from the model's path. `role` picks the thread setting: `intraOpNumThreads` for the
 * target, `drafterThreads` for a drafter's model. `outputs` places outputs on the device
 * (`preferredOutputLocation`); a session that falls back to the CPU keeps them all on the host.
 * `unread` names outputs the caller never fetches: a model file is then opened without them and
 * without what computes only them ({@link modelToOpen}), its external data still read from the
 * file's folder.
 */
export async function createSession(
  modelPath: string | Uint8Array,
  options: NodeSessionOptions = {},
  role: 'target' | 'drafter' = 'target',
  outputs?: OutputPlacement,
  unread: readonly string[] = [],
): Promise<InferenceSession> {
  const provider = options.executionProvider ?? 'cpu';
  if (provider !== 'cpu' && provider !== 'webgpu' && provider !== 'cuda') {
    throw new OptionError('executionProvider', provider, '"cpu", "webgpu" or "cuda"');
  }
  checkSessionOptions(options);
  const modelName =
    typeof modelPath === 'string' ? modelPath : `an in-memory model of ${modelPath.length} bytes`;
  try {
    if (typeof modelPath === 'string') await access(modelPath);
  } catch (error) {
    throw new ModelLoadError(modelName, 'the model file does not exist or cannot be read', error);
  }
  const trimmed =
    typeof modelPath === 'string' && unread.length > 0 ? await trimmedModel(modelPath, unread) : null;
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    interOpNumThreads: options.interOpNumThreads ?? 1,
    ...(options.memoryPattern === false ? { enableMemPattern: false } : {}),
    // A provider that fails to start becomes a ProviderUnavailableError; keep ORT's own log quiet.
    ...(provider !== 'cpu' ? { logSeverityLevel: 4 as const } : {}),
    ...sessionThreads(options, role),
    ...sessionConfig(options.spinning === false, trimmed ? dirname(modelPath as string) : null),
    ...(outputs && provider !== 'cpu' ? { preferredOutputLocation: { ...outputs } } : {}),
  };
  try {
    const ort = onnxRuntimeFor(options, provider);
    // ONNX Runtime logs a failed provider library at error level before it throws (the error
    // becomes a ProviderUnavailableError below); the level only takes effect before the first session.
    if (provider !== 'cpu') ort.env.logLevel = 'fatal';
    if (provider === 'webgpu' && process.platform === 'linux' && !(await hasVulkanLoader()))
      throw new Error('Failed to load library libvulkan.so.1 (the Vulkan loader is not installed)');
    return await ort.createSession(trimmed ?? modelPath, sessionOptions);
  } catch (error) {
    // Without its ONNX Runtime, CUDA is an unavailable provider (so fallbackToCpu applies); the
    // other providers run on any runtime, so a missing one is an error of its own.
    const noRuntime = error instanceof OnnxRuntimeUnavailableError;
    if (noRuntime && provider !== 'cuda') throw error;
    if (provider !== 'cpu' && (noRuntime || isProviderFailure(error))) {
      const unavailable = noRuntime
        ? new ProviderUnavailableError(provider, error.message, {
            hint: cudaHint(error.message),
            cause: error,
          })
        : new ProviderUnavailableError(provider, INSTALL_HINTS[provider], { cause: error });
      if (!options.fallbackToCpu) throw unavailable;
      options.onFallback?.(unavailable);
      return createSession(modelPath, { ...options, executionProvider: 'cpu', fallbackToCpu: false }, role);
    }
    const cutShort = typeof modelPath === 'string' ? await cutShortWeights(modelPath, error) : null;
    throw (
      cutShort ??
      new ModelLoadError(
        modelName,
        `ONNX Runtime could not load the model: ${String((error as Error)?.message ?? error)}`,
        error,
      )
    );
  }
}

const OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
const RUNTIME_SOURCES = ['bundled', 'onnxruntime-node'] as const;

/**
 * Checks the session options a caller set, so that a wrong one is an {@link OptionError} naming
 * it rather than ONNX Runtime's refusal of a model (which names its own settings) or a value
 * quietly read as another.
 */
function checkSessionOptions(options: NodeSessionOptions): void {
  for (const option of ['intraOpNumThreads', 'drafterThreads', 'interOpNumThreads'] as const) {
    if (options[option] !== undefined) requireInteger(option, options[option], 1, 1024);
  }
  requireOneOf('graphOptimizationLevel', options.graphOptimizationLevel, OPTIMIZATION_LEVELS);
  requireOneOf('onnxRuntime', options.onnxRuntime, RUNTIME_SOURCES);
  for (const option of ['spinning', 'memoryPattern', 'fallbackToCpu'] as const) {
    requireBoolean(option, options[option]);
  }
}

/**
 * ONNX Runtime's session configuration entries: idle threads that sleep, and the folder a model
 * opened from its bytes finds its external data in (the folder of the file it was read from).
 */
function sessionConfig(
  sleeping: boolean,
  externalDataFolder: string | null,
): Pick<InferenceSession.SessionOptions, 'extra'> {
  if (!sleeping && externalDataFolder === null) return {};
  return {
    extra: {
      session: {
        ...(sleeping ? { intra_op: { allow_spinning: '0' } } : {}),
        ...(externalDataFolder !== null
          ? { model_external_initializers_file_folder_path: externalDataFolder }
          : {}),
      },
    },
  };
}

/**
 * The model file's bytes without the `unread` outputs ({@link modelToOpen}); null when it has none
 * of them, or when the file cannot be read: it is then opened by its path, and ONNX Runtime says
 * what is wrong.
 */
async function trimmedModel(file: string, unread: readonly string[]): Promise<Uint8Array | null> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    return null;
  }
  const trimmed = modelToOpen(bytes, unread);
  return trimmed === bytes ? null : trimmed;
}

/** The ONNX Runtime of a session: the option's, else `onnxruntime-node` for CUDA, else the process's (`bundled` at first). */
function onnxRuntimeFor(options: NodeSessionOptions, provider: ExecutionProvider): OnnxRuntime {
  return loadOnnxRuntime(options.onnxRuntime ?? (provider === 'cuda' ? 'onnxruntime-node' : undefined));
}

/**
 * The intra-op threads of a session for `role`: the target's {@link targetThreads}, a drafter's
 * `drafterThreads` (default 1); none named leaves ONNX Runtime's choice.
 */
export function sessionThreads(
  options: NodeSessionOptions,
  role: 'target' | 'drafter',
): { intraOpNumThreads?: number } {
  const n = role === 'target' ? targetThreads(options.intraOpNumThreads) : (options.drafterThreads ?? 1);
  return n === undefined ? {} : { intraOpNumThreads: n };
}

function isProviderFailure(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error);
  return /execution ?provider|providers_shared|adapter|webgpu|cuda|Failed to load (shared )?library/i.test(
    message,
  );
}
