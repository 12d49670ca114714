export { ModelLoadError, ProviderSupportError, ProviderUnavailableError } from '@treespec/core';
export type { Prompt, TextGenerateOptions, TextGenerator, TextResult } from '@treespec/generator';
export {
  type CallGroup,
  CallLog,
  type CallModel,
  type CallSummary,
  type ModelCalls,
  type OutputPlacement,
  summarizeCalls,
} from '@treespec/onnx';
export type { AdaptiveStop, BundleDrafter, BundleOptions } from '@treespec/planner';
export {
  type BundleManifest,
  modelFiles,
  readBundleManifest,
  verifyBundle,
  verifyChecksums,
} from './bundle-files.js';
export { defaultTargetThreads, physicalCoreCount, targetThreads } from './cpu-cores.js';
export {
  HUGE_PAGE_TUNABLE,
  HUGE_PAGES_VARIABLE,
  type HugePageFacts,
  hugePageEnvironment,
  hugePageFacts,
  hugePagesInUse,
  relaunchWithHugePages,
} from './huge-pages.js';
export { type LoadTreespecOptions, loadTreespec } from './load-treespec.js';
export {
  createSession,
  type ExecutionProvider,
  type NodeSessionOptions,
} from './session.js';
export { readTokenizerFiles } from './tokenizer-files.js';
export {
  defaultTuningCacheFile,
  machineName,
  manifestHash,
  readTuningCache,
  storedSeeds,
  type TunedDrafter,
  type TunedSeeds,
  type TuningKey,
  tuningKey,
  writeTuningCache,
} from './tuning-cache.js';
