/**
 * The building blocks under `@treespec/web`'s public face, for tests and tooling: downloads and
 * the model cache, provider choice, sessions, progress and the worker protocol. Not covered by
 * semver; the public entry re-exported here too.
 */

export { loggedSession } from '@treespec/onnx';
export { type Downloaded, type DownloadOptions, download, expectedLength } from './download.js';
export { providerUnavailable } from './errors.js';
export {
  chooseExecutionProvider,
  type GpuNavigator,
  type ProviderChoice,
  type ThreadScope,
  type WasmThreads,
  wasmThreads,
  webGpuUnavailableReason,
} from './execution-provider.js';
export * from './index.js';
export { webGpuFailure } from './load-treespec-web.js';
export {
  bundleVersion,
  cacheKey,
  cacheKeyFile,
  openModelCache,
  settleVersion,
  storeInCache,
} from './model-cache.js';
export { ProgressTracker } from './progress.js';
export {
  createWebSession,
  externalDataLocation,
  loadRuntime,
  type ModelBytes,
  type OrtModule,
  queuedSession,
  RunQueue,
  type RuntimeSetup,
  type WebSessionOptions,
  yieldingSession,
  yieldToEventLoop,
} from './web-session.js';
export {
  deserializeError,
  parseWorkerEvent,
  parseWorkerRequest,
  requestId,
  type SerializedError,
  serializeError,
  treeSnapshot,
  type WorkerEvent,
  type WorkerRequest,
} from './worker-protocol.js';
