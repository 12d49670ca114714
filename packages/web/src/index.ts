export { type Downloaded, type DownloadOptions, download, expectedLength } from './download.js';
export {
  DownloadError,
  type DownloadErrorDetails,
  type DownloadFailure,
  ModelLoadError,
  ProviderUnavailableError,
  WorkerProtocolError,
} from './errors.js';
export {
  chooseExecutionProvider,
  type ExecutionProviderPreference,
  type GpuNavigator,
  type ProviderChoice,
  type ThreadScope,
  type WasmThreads,
  type WebExecutionProvider,
  wasmThreads,
  webGpuUnavailableReason,
} from './execution-provider.js';
export {
  type LoadInfo,
  type LoadTreespecWebOptions,
  loadTreespecWeb,
  resolveManifestUrl,
  type WebTreespec,
} from './load-treespec-web.js';
export {
  bundleVersion,
  cacheKey,
  cacheKeyFile,
  clearModelCache,
  DEFAULT_CACHE_NAME,
  openModelCache,
  storeInCache,
} from './model-cache.js';
export { type FileProgress, type LoadProgress, ProgressTracker } from './progress.js';
export {
  createWebSession,
  externalDataLocation,
  loadRuntime,
  type ModelBytes,
  type OrtModule,
  type RuntimeSetup,
  type WasmPaths,
  type WebSessionOptions,
  yieldingSession,
  yieldToEventLoop,
} from './web-session.js';
export {
  type ClientGenerateOptions,
  type ClientLoadOptions,
  TreespecWorkerClient,
  type WorkerLike,
} from './worker-client.js';
export { serveTreespecWorker, type WorkerHostOptions, type WorkerScopeLike } from './worker-host.js';
export {
  deserializeError,
  type LiveStats,
  parseWorkerEvent,
  parseWorkerRequest,
  requestId,
  type SerializedError,
  serializeError,
  type TreeSnapshot,
  treeSnapshot,
  type WorkerEvent,
  type WorkerGenerateOptions,
  type WorkerLoadOptions,
  type WorkerRequest,
  type WorkerResult,
} from './worker-protocol.js';
