import {
  AbortError,
  type ChatTokenizer,
  type DynamicTreeOptions,
  NumericError,
  OptionError,
  requireBoolean,
  requireInteger,
  requireNumber,
  TOKENIZER_FILE_NAMES,
  type TokenizerPart,
  TreespecError,
} from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import {
  CallLog,
  CHECKSUMS_FILE,
  checkedBundlePaths,
  checkGraph,
  checkTokenizerHash,
  loggedSession,
  MANIFEST_FILE,
  type ManifestModel,
  modelToOpen,
  type OnnxCausalLm,
  type OutputPlacement,
  parseManifest,
} from '@treespec/onnx';
import { assemble, type BundleOptions, type DrafterName, type Plan, plan } from '@treespec/planner';
import { loadTokenizer, type TokenizerFiles } from '@treespec/tokenizers';
import type { Tensor } from 'onnxruntime-common';
import type * as OrtWeb from 'onnxruntime-web';
import { type Downloaded, download } from './download.js';
import { DownloadError, ModelLoadError, ProviderUnavailableError } from './errors.js';
import {
  chooseExecutionProvider,
  type ExecutionProviderPreference,
  type WebExecutionProvider,
  wasmThreads,
} from './execution-provider.js';
import { bundleVersion, cacheKey, DEFAULT_CACHE_NAME, openModelCache, settleVersion } from './model-cache.js';
import { type LoadProgress, ProgressTracker } from './progress.js';
import {
  createWebSession,
  externalDataLocation,
  loadRuntime,
  type ModelBytes,
  queuedSession,
  RunQueue,
  type WasmPaths,
  yieldingSession,
} from './web-session.js';

/** Every WebGPU session of this page or worker runs its calls through this queue (see {@link RunQueue}). */
const WEBGPU_RUNS = new RunQueue();

/** Options of {@link loadTreespecWeb}: the generator's (drafter, tree) and how models load and run. */
export interface LoadTreespecWebOptions extends BundleOptions {
  /** Default `auto`: WebGPU when the browser has an adapter, else WASM (with `info.fallbackReason`). */
  executionProvider?: ExecutionProviderPreference;
  /** Threads of the WASM pool. Default: the logical cores, at most 4; 1 unless cross-origin isolated. */
  numThreads?: number;
  /** Threads inside one operator of a drafter's model (EAGLE head, draft LM). Default 1. */
  drafterThreads?: number;
  /** Let idle WASM pool threads spin (see `WebSessionOptions.spinning`). Default false. */
  spinning?: boolean;
  /** Where onnxruntime-web's `.wasm`/`.mjs` files are served. Default: where the bundler put them. */
  wasmPaths?: WasmPaths;
  /** Keep the bundle's files in the Cache Storage so that a reload does not download them. Default true. */
  cache?: boolean;
  /** Name of the Cache Storage cache. Default `treespec-models`. */
  cacheName?: string;
  /**
   * Log every model call's rows and duration in `WebTreespec.calls` (a diagnostic: what a
   * speculative step's time goes to, call by call). In a worker each generation's result carries
   * its calls (`WorkerResult.calls`; the log restarts when a generation starts, so calls of
   * generations queued behind each other mix). Default false.
   */
  logCalls?: boolean;
  /** Called as bytes arrive (at most every `progressIntervalMs`, and whenever a file starts or ends). */
  onProgress?: (progress: LoadProgress) => void;
  /** Default 50. */
  progressIntervalMs?: number;
  /** Cancels the load; it then rejects with core's `AbortError`. */
  signal?: AbortSignal;
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** What a load did: where the models run, how many bytes came from where, and how long it took. */
export interface LoadInfo {
  manifestUrl: string;
  /** The bundle version the cache keys carry (see `bundleVersion`). */
  version: string;
  /** Where the target runs. */
  provider: WebExecutionProvider;
  /** Where each loaded model runs, by manifest id. */
  providers: Record<string, WebExecutionProvider>;
  /** Why WebGPU was not used although `auto` preferred it, or null. */
  fallbackReason: string | null;
  /** Threads of the WASM pool. */
  threads: number;
  /**
   * The drafter generations use unless they name one, or null for plain decoding: the caller's
   * `drafter`, else the device's default (on WASM the model-free `lookup`, priced chains of up to 4 tokens).
   */
  drafter: DrafterName | null;
  /** The EAGLE-2 tree budget the generator uses. */
  tree: DynamicTreeOptions;
  /** Why WASM runs on one thread, or null. */
  threadsLimitedBecause: string | null;
  crossOriginIsolated: boolean;
  /** Bytes of all files; of those, downloaded and read from the cache. */
  bytes: { total: number; downloaded: number; fromCache: number };
  /** Wall time of the whole load, of fetching every file, and of opening the sessions after that. */
  timings: { totalMs: number; filesMs: number; sessionsMs: number };
  /** What the load reported through `onWarning` (e.g. a quantized target that may decode inexactly). */
  warnings: string[];
}

/** A loaded model bundle. */
export interface WebTreespec {
  generator: TextGenerator;
  info: LoadInfo;
  /** Every model call since the log was last reset, with `logCalls`; else null. */
  calls: CallLog | null;
  /**
   * Where the target's KV cache rows are now, as its runner reads them from the cache's own
   * tensors: `gpu-buffer` once a generation on WebGPU has kept rows on the device (the planner's
   * `KV_CACHE_LOCATION`), `cpu` on WASM (and before the first generation).
   */
  kvCacheLocation(): Tensor.DataLocation;
}

/**
 * Loads a treespec model bundle over HTTP into a {@link TextGenerator}: fetches `treespec.json`,
 * then every file the chosen drafters need (all at once, with progress, from the Cache Storage
 * when cached), opens onnxruntime-web sessions on WebGPU or WASM, and composes the generator
 * through `@treespec/generator`, the same way `@treespec/node` does. A missing or truncated file
 * rejects with a {@link DownloadError}; the signal, with an `AbortError`.
 *
 * ```ts
 * const { generator, info } = await loadTreespecWeb('/models/tiny/', { onProgress: (p) => console.log(p.fraction) });
 * const { text, stats } = await generator.generate('Once upon a time', { maxTokens: 64 });
 * ```
 */
export async function loadTreespecWeb(
  modelUrl: string | URL,
  options: LoadTreespecWebOptions = {},
): Promise<WebTreespec> {
  const started = performance.now();
  const manifestUrl = resolveManifestUrl(modelUrl);
  // One controller for every file: the first failure cancels the others.
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) controller.abort();
  const signal = controller.signal;
  let firstFailure: unknown = null;
  try {
    const preference = options.executionProvider ?? 'auto';
    if (preference !== 'auto' && preference !== 'webgpu' && preference !== 'wasm') {
      throw new OptionError('executionProvider', preference, '"auto", "webgpu" or "wasm"');
    }
    const threads = wasmThreads(options.numThreads);
    const drafterThreads = Math.min(
      options.drafterThreads === undefined
        ? 1
        : requireInteger('drafterThreads', options.drafterThreads, 1, 64),
      threads.threads,
    );
    requireBoolean('spinning', options.spinning);
    if (options.progressIntervalMs !== undefined) {
      requireNumber('progressIntervalMs', options.progressIntervalMs, { min: 0 });
    }
    const choice = await chooseExecutionProvider(preference);
    const fetchOptions = { signal, ...(options.fetch ? { fetch: options.fetch } : {}) };
    const cache =
      options.cache === false ? null : await openModelCache(options.cacheName ?? DEFAULT_CACHE_NAME);
    const manifest = await fetchManifest(manifestUrl, cache, fetchOptions);
    const bundled = parseManifest(manifest.text, manifestUrl);
    checkedBundlePaths(bundled, manifestUrl);
    const checksumsUrl = new URL(CHECKSUMS_FILE, manifestUrl).href;
    const checksums = await fetchChecksums(checksumsUrl, cache, fetchOptions);
    const version = await bundleVersion(manifest.text, checksums.text);

    const runtimeSetup = {
      threads: threads.threads,
      ...(options.wasmPaths !== undefined ? { wasmPaths: options.wasmPaths } : {}),
    };
    const progress = new ProgressTracker(options.onProgress, {
      ...(options.progressIntervalMs !== undefined ? { intervalMs: options.progressIntervalMs } : {}),
    });
    const files = new Map<string, Promise<Downloaded>>();
    const fetchFile = (relative: string): Promise<Downloaded> => {
      let file = files.get(relative);
      if (!file) {
        const url = new URL(relative, manifestUrl).href;
        // Registered before its response, so the reported total stays unknown until every file's size is.
        progress.start(url, null, false);
        file = download(url, { ...fetchOptions, cache, cacheKey: cacheKey(url, version), progress });
        file.catch((error) => {
          firstFailure ??= error;
          controller.abort();
        });
        files.set(relative, file);
      }
      return file;
    };
    const calls = options.logCalls ? new CallLog() : null;
    const spinning = options.spinning ?? false;
    let tokenizer: ChatTokenizer | null = null;

    /** Fetches what `planned` loads and assembles it on `provider`. */
    const assembleOn = async (provider: WebExecutionProvider, planned: Plan) => {
      const runtime = loadRuntime(provider, runtimeSetup);
      runtime.catch(() => {});
      const { target, tokenizerFiles } = planned;
      for (const name of tokenizerFiles) fetchFile(name);
      for (const model of planned.models) {
        fetchFile(model.file);
        for (const data of model.externalData) fetchFile(data);
      }
      tokenizer ??= await loadTokenizer(await tokenizerInput(tokenizerFiles, fetchFile));
      await checkTokenizerHash((await fetchFile('tokenizer.json')).bytes, target, manifestUrl);
      await Promise.all(files.values());
      const filesDone = performance.now();
      // On WebGPU a call waits for the calls of other sessions before it (a call log times the call alone).
      const inTurn = (session: OrtWeb.InferenceSession) =>
        provider === 'webgpu' ? queuedSession(session, WEBGPU_RUNS) : session;
      const wrap = (session: OrtWeb.InferenceSession, model: ManifestModel) =>
        yieldAtTarget(
          inTurn(
            calls
              ? loggedSession(
                  session,
                  model.role === 'target' ? 'target' : 'drafter',
                  model.inputs.inputIds,
                  calls,
                )
              : session,
          ),
          model,
        );
      const open = async (bytes: ModelBytes, intraOpNumThreads: number, outputs?: OutputPlacement) =>
        createWebSession(await runtime, bytes, {
          provider,
          intraOpNumThreads,
          spinning,
          ...(outputs ? { outputs } : {}),
        });
      const generator = await assemble(
        planned,
        async (model: ManifestModel, outputs?: OutputPlacement, unread: readonly string[] = []) => {
          const [file, ...data] = await Promise.all([model.file, ...model.externalData].map(fetchFile));
          const bytes = {
            url: new URL(model.file, manifestUrl).href,
            bytes: modelToOpen(file.bytes, unread),
            externalData: model.externalData.map((name, i) => ({
              path: externalDataLocation(model.file, name),
              data: data[i].bytes,
            })),
          };
          const session = await open(
            bytes,
            model.role === 'target' ? threads.threads : drafterThreads,
            outputs,
          );
          try {
            return checkGraph(wrap(session, model), model, bytes.url, unread);
          } catch (error) {
            await session.release();
            throw error;
          }
        },
        tokenizer,
        // The target's in-memory graphs (its KV cache compaction, its logits copy), on the provider
        // the target opened on (the planner asks for them where its policy keeps the cache on the
        // device).
        async (graph: Uint8Array, outputs: OutputPlacement) =>
          inTurn(
            await open(
              { url: `${manifestUrl} (an in-memory graph of the target)`, bytes: graph, externalData: [] },
              threads.threads,
              outputs,
            ),
          ),
        signal,
      );
      return { generator, filesDone, runtime: await runtime };
    };

    let provider = choice.provider;
    let fallbackReason = choice.fallbackReason;
    let planned = plan(bundled, options, provider, manifestUrl);
    let assembled: Awaited<ReturnType<typeof assembleOn>>;
    try {
      assembled = await assembleOn(provider, planned);
    } catch (error) {
      // Under `auto`, WebGPU that fails to run the bundle falls back to WASM with WASM's own plan
      // (its drafter, budgets, models and host caches), not WebGPU's on another provider.
      if (preference !== 'auto' || provider !== 'webgpu' || signal.aborted || !webGpuFailure(error))
        throw error;
      fallbackReason = `WebGPU failed to run the bundle: ${error instanceof ProviderUnavailableError ? error.reason : String((error as Error)?.message ?? error)}`;
      provider = 'wasm';
      planned = plan(bundled, options, provider, manifestUrl);
      assembled = await assembleOn(provider, planned);
    }
    // Every file of this version is stored: offline loads read it from now on.
    if (cache) {
      const keys = [...files.keys()].map((file) => cacheKey(new URL(file, manifestUrl).href, version));
      const documents: [string, Uint8Array][] = [];
      if (manifest.fresh) documents.push([manifestUrl, manifest.fresh]);
      if (checksums.fresh) documents.push([checksumsUrl, checksums.fresh]);
      await settleVersion(cache, keys, documents);
    }
    // The sessions hold the models now: the downloaded bytes can go. Something that outlives the
    // load keeps this scope alive: without this, the tiny bundle's 105 MB of downloads stayed
    // reachable after an EAGLE-2 load (onnxruntime-web in Node, after two collections).
    files.clear();
    for (const warning of planned.warnings) (options.onWarning ?? console.warn)(warning);
    const { generator, filesDone, runtime } = assembled;
    // onnxruntime-web takes its thread pool and file paths once per page or worker, at its
    // first session: a later load that asks for others runs with the first ones.
    const poolThreads = runtime.env.wasm.numThreads ?? threads.threads;
    if (poolThreads !== threads.threads) {
      (options.onWarning ?? console.warn)(
        `treespec: option "numThreads" (${threads.threads}) is ignored: onnxruntime-web keeps the ${poolThreads} threads ` +
          'its first load in this page or worker set up; reload the page (or start a new worker) to change them',
      );
    }
    const { target } = planned;
    const providers = Object.fromEntries(planned.models.map((model) => [model.id, provider]));
    if (signal.aborted) {
      await generator.dispose();
      throw new AbortError(`loading ${manifestUrl} was aborted`);
    }
    // The log is of generations' calls: the load's warm-up calls are not among them.
    calls?.reset();
    const finished = performance.now();
    const snapshot = progress.snapshot();
    // assemble opens the plan's target as an OnnxCausalLm.
    const runner = generator.target as OnnxCausalLm;
    return {
      generator,
      calls,
      kvCacheLocation: () => runner.cacheLocation,
      info: {
        manifestUrl,
        version,
        provider: providers[target.id] ?? provider,
        providers,
        fallbackReason,
        threads: poolThreads,
        drafter: planned.defaultDrafter,
        tree: planned.budgets.tree,
        threadsLimitedBecause: threads.limitedBecause,
        crossOriginIsolated: (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
        bytes: {
          total: snapshot.loaded,
          downloaded: snapshot.downloaded,
          fromCache: snapshot.loaded - snapshot.downloaded,
        },
        timings: {
          totalMs: finished - started,
          filesMs: filesDone - started,
          sessionsMs: finished - filesDone,
        },
        warnings: [...planned.warnings],
      },
    };
  } catch (error) {
    controller.abort();
    if (options.signal?.aborted) {
      throw error instanceof AbortError ? error : new AbortError(`loading ${manifestUrl} was aborted`);
    }
    // A file that failed cancels the others; report the failure, not the cancellations it caused.
    throw error instanceof AbortError && firstFailure !== null ? firstFailure : error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * The target's session yields to the event loop before each call (see {@link yieldingSession}):
 * once per decoding step is enough for an abort message or a paint to get through, and a
 * drafter's calls, several per step, then cost no extra task each.
 */
function yieldAtTarget(session: OrtWeb.InferenceSession, model: ManifestModel): OrtWeb.InferenceSession {
  return model.role === 'target' ? yieldingSession(session) : session;
}

/**
 * The manifest URL of a model URL: a folder (`…/tiny/`, `…/tiny`) or the manifest itself
 * (`…/treespec.json`); relative URLs are resolved against the page (or worker) location.
 */
export function resolveManifestUrl(modelUrl: string | URL): string {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(modelUrl, base);
  } catch {
    throw new OptionError('modelUrl', String(modelUrl), 'an absolute URL, or a URL relative to the page');
  }
  if (url.pathname.endsWith('.json')) return url.href;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL(MANIFEST_FILE, url).href;
}

/** The tokenizer part each file name holds (core's `TOKENIZER_FILE_NAMES`, inverted). */
const TOKENIZER_PARTS = new Map<string, TokenizerPart>(
  Object.entries(TOKENIZER_FILE_NAMES).map(([part, name]) => [name, part as TokenizerPart]),
);

async function tokenizerInput(
  names: readonly string[],
  fetchFile: (name: string) => Promise<Downloaded>,
): Promise<TokenizerFiles> {
  const decoder = new TextDecoder();
  const parts: Partial<Record<keyof TokenizerFiles, string>> = {};
  await Promise.all(
    names.map(async (name) => {
      const part = TOKENIZER_PARTS.get(name.slice(name.lastIndexOf('/') + 1));
      if (part) parts[part] = decoder.decode((await fetchFile(name)).bytes);
    }),
  );
  if (parts.tokenizer === undefined) {
    throw new TreespecError(
      'TOKENIZER',
      `the manifest lists no tokenizer.json among its tokenizer files (${names.join(', ')})`,
    );
  }
  return parts as TokenizerFiles;
}

/**
 * Whether an error of a load on WebGPU is WebGPU's failing to run the bundle (the provider would
 * not start, ONNX Runtime refused a model on it, a call failed or computed no numbers), which
 * WASM may not share; not one that a load on any provider would meet again (a bad option, a
 * malformed bundle, a download).
 */
export function webGpuFailure(error: unknown): boolean {
  if (!(error instanceof TreespecError)) return true;
  return (
    error instanceof ProviderUnavailableError ||
    error instanceof ModelLoadError ||
    error instanceof NumericError
  );
}

/**
 * The bundle's checksums file, always from the network as the manifest is (a copy stored by an
 * earlier load where the network fails); empty for a bundle without one (converted before it was
 * written, or served without it), or offline without a stored copy: the version is then the
 * manifest's alone, as it was before bundles had one.
 */
async function fetchChecksums(
  url: string,
  cache: Cache | null,
  options: { signal: AbortSignal; fetch?: typeof globalThis.fetch },
): Promise<BundleDocument> {
  try {
    return await fetchManifest(url, cache, options);
  } catch (error) {
    // None served (404), or none to be had offline beyond what an earlier load stored: the
    // manifest's version. Any other failure fails the load rather than change the version, which
    // would miss every cached file and replace them.
    if (error instanceof DownloadError && (error.status === 404 || error.reason === 'network'))
      return { text: '', fresh: null };
    throw error;
  }
}

/** A bundle document's text, and its bytes where they came from the network (stored once the load's files are). */
interface BundleDocument {
  text: string;
  fresh: Uint8Array | null;
}

/**
 * The manifest, always from the network (it is small and says which version the cached files
 * must have); when the network fails, the copy stored by the last load whose files were all
 * stored keeps the page working offline.
 */
async function fetchManifest(
  url: string,
  cache: Cache | null,
  options: { signal: AbortSignal; fetch?: typeof globalThis.fetch },
): Promise<BundleDocument> {
  let bytes: Uint8Array;
  try {
    bytes = (await download(url, options)).bytes;
  } catch (error) {
    const offline = error instanceof DownloadError && error.reason === 'network';
    const stored = offline && cache ? await cache.match(url).catch(() => undefined) : undefined;
    if (!stored) throw error;
    return { text: await stored.text(), fresh: null };
  }
  return { text: new TextDecoder().decode(bytes), fresh: bytes };
}
