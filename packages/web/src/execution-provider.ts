import { requireInteger } from '@treespec/core';
import { providerUnavailable } from './errors.js';

/** Where models run in a browser: the GPU through WebGPU, or the CPU through WebAssembly. */
export type WebExecutionProvider = 'webgpu' | 'wasm';

/** What a caller asks for: `auto` takes WebGPU when the browser offers an adapter, else WASM. */
export type ExecutionProviderPreference = 'auto' | WebExecutionProvider;

/** The provider a load will use, and why it is not the preferred one when it is not. */
export interface ProviderChoice {
  provider: WebExecutionProvider;
  /** Why `auto` fell back to WASM (shown to users), or null. */
  fallbackReason: string | null;
}

/** The part of `navigator` that WebGPU detection reads. */
export interface GpuNavigator {
  gpu?: { requestAdapter(options?: unknown): Promise<unknown> };
}

/**
 * Resolves null when WebGPU can run here (navigator.gpu exists and yields an adapter), else the
 * reason it cannot, in words for a user.
 */
export async function webGpuUnavailableReason(
  nav: GpuNavigator | undefined = (globalThis as { navigator?: GpuNavigator }).navigator,
): Promise<string | null> {
  if (!nav?.gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  try {
    const adapter = await nav.gpu.requestAdapter();
    return adapter ? null : 'this browser offers no WebGPU adapter (requestAdapter() returned null)';
  } catch (error) {
    return `requesting a WebGPU adapter failed: ${(error as Error)?.message ?? String(error)}`;
  }
}

/**
 * Picks the execution provider for a preference: `wasm` as asked; `webgpu` when an adapter exists,
 * else a {@link ProviderUnavailableError} with the reason; `auto` is WebGPU when an adapter exists,
 * else WASM with the reason.
 */
export async function chooseExecutionProvider(
  preference: ExecutionProviderPreference,
  nav?: GpuNavigator,
): Promise<ProviderChoice> {
  if (preference === 'wasm') return { provider: 'wasm', fallbackReason: null };
  const reason = await webGpuUnavailableReason(nav ?? (globalThis as { navigator?: GpuNavigator }).navigator);
  if (reason && preference === 'webgpu') throw providerUnavailable('webgpu', reason);
  return reason ? { provider: 'wasm', fallbackReason: reason } : { provider: 'webgpu', fallbackReason: null };
}

/** How many threads WASM gets, and why only one when it is limited. */
export interface WasmThreads {
  threads: number;
  /** Why WASM runs on one thread although more were possible or asked for, or null. */
  limitedBecause: string | null;
}

/** The global facts thread selection reads. */
export interface ThreadScope {
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

/** The most threads chosen by default: more rarely helps a small model and costs spin-waiting cores. */
const MAX_DEFAULT_THREADS = 4;

/**
 * Threads for WASM: multi-threaded WebAssembly needs SharedArrayBuffer, which browsers give only
 * to cross-origin isolated pages (served with `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`). Default: the logical cores, at most 4.
 */
export function wasmThreads(
  requested?: number,
  scope: ThreadScope = globalThis as unknown as ThreadScope,
): WasmThreads {
  const cores = Math.max(1, Math.floor(scope.navigator?.hardwareConcurrency ?? 1));
  const wanted =
    requested === undefined
      ? Math.min(cores, MAX_DEFAULT_THREADS)
      : requireInteger('numThreads', requested, 1, 64);
  if (wanted > 1 && scope.crossOriginIsolated !== true) {
    return {
      threads: 1,
      limitedBecause:
        'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and ' +
        'Cross-Origin-Embedder-Policy: require-corp), so WebAssembly runs on one thread',
    };
  }
  return { threads: wanted, limitedBecause: null };
}
