// Every error a load or a generation can throw, so that an app checks them (`instanceof`) with
// this package alone installed.
export {
  AbortError,
  BusyError,
  ContextOverflowError,
  ContractError,
  ModelFormatError,
  ModelLoadError,
  NumericError,
  OptionError,
  ProviderSupportError,
  ProviderUnavailableError,
  TreespecError,
  type TreespecErrorCode,
} from '@treespec/core';
export {
  DisposedError,
  type Prompt,
  QueueFullError,
  type TextGenerateOptions,
  type TextGenerator,
  type TextResult,
} from '@treespec/generator';
export {
  type CallGroup,
  CallLog,
  type CallModel,
  type CallSummary,
  type ModelCalls,
  ModelMismatchError,
  type OutputPlacement,
  summarizeCalls,
} from '@treespec/onnx';
export { OnnxRuntimeUnavailableError } from '@treespec/onnxruntime';
export type { AdaptiveStop, BundleDrafter, BundleOptions } from '@treespec/planner';
export { ChatTemplateError, TokenIdError, TokenizerError } from '@treespec/tokenizers';
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
