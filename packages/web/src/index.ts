export type { Prompt, TextGenerateOptions, TextGenerator, TextResult } from '@treespec/generator';
export { CallLog, type CallModel, type ModelCalls } from '@treespec/onnx';
export type { AdaptiveStop, BundleDrafter, BundleOptions } from '@treespec/planner';
export {
  DownloadError,
  type DownloadErrorDetails,
  type DownloadFailure,
  ModelLoadError,
  ProviderUnavailableError,
  WorkerProtocolError,
} from './errors.js';
export type { ExecutionProviderPreference, WebExecutionProvider } from './execution-provider.js';
export {
  type LoadInfo,
  type LoadTreespecWebOptions,
  loadTreespecWeb,
  resolveManifestUrl,
  type WebTreespec,
} from './load-treespec-web.js';
export { clearModelCache, DEFAULT_CACHE_NAME } from './model-cache.js';
export type { FileProgress, LoadProgress } from './progress.js';
export { type CostedRun, describeStepCosts, type StepCosts, stepCosts } from './step-costs.js';
export type { WasmPaths } from './web-session.js';
export {
  type ClientGenerateOptions,
  type ClientLoadOptions,
  TreespecWorkerClient,
  type WorkerLike,
} from './worker-client.js';
export { serveTreespecWorker, type WorkerHostOptions, type WorkerScopeLike } from './worker-host.js';
export type {
  LiveStats,
  TreeSnapshot,
  WorkerGenerateOptions,
  WorkerLoadOptions,
  WorkerResult,
} from './worker-protocol.js';
