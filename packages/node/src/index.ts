export { type LoadTreespecOptions, loadTreespec } from './load-treespec.js';
export {
  createSession,
  type ExecutionProvider,
  ModelLoadError,
  type NodeSessionOptions,
  ProviderUnavailableError,
} from './session.js';
export {
  defaultTuningCacheFile,
  machineName,
  manifestHash,
  readTuningCache,
  storedSeeds,
  type TunedDrafter,
  type TunedSeeds,
  type TuningKey,
  writeTuningCache,
} from './tuning-cache.js';
