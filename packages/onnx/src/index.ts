export { checkBundleLimits, MAX_MANIFEST_DIMS } from './bundle-limits.js';
export { type BundlePath, checkBundlePath, checkedBundlePaths } from './bundle-paths.js';
export {
  type CallGroup,
  CallLog,
  type CallModel,
  type CallSummary,
  loggedSession,
  type ModelCalls,
  summarizeCalls,
} from './call-log.js';
export type { CacheNames, CausalLmCache } from './causal-lm-cache.js';
export { type CausalLmRunnerOptions, OnnxCausalLm } from './causal-lm-runner.js';
export { type CompactionNames, compactionModel, compactionNames } from './compaction-graph.js';
export {
  DeviceDraftKvCache,
  type DraftDeviceCacheSetup,
  draftDeviceCacheSetup,
} from './device-draft-kv-cache.js';
export {
  compactionOutputLocations,
  type DeviceCacheCopies,
  DeviceKvCache,
  deviceCacheOutputLocations,
  deviceOnlyOutputs,
  logitsStayOnDevice,
  type OutputLocation,
  type OutputPlacement,
  unreadOutputs,
} from './device-kv-cache.js';
export { type DraftCacheNames, type DraftKvCache, HostDraftKvCache } from './draft-kv-cache.js';
export { type DraftLmRunnerOptions, OnnxDraftLm } from './draft-lm-runner.js';
export type { DraftModelRunnerOptions } from './draft-model-runner.js';
export { type EagleHeadRunnerOptions, OnnxEagleHead } from './eagle-head-runner.js';
export { type Eagle3HeadRunnerOptions, OnnxEagle3Head } from './eagle3-head-runner.js';
export { externalDataExtents } from './external-data-extents.js';
export { checkGraph, type GraphSignature } from './graph-check.js';
export { modelToOpen, withoutOutputs } from './graph-trim.js';
export type { HeadRunnerOptions } from './head-runner.js';
export {
  LOGITS_COPY_NAMES,
  logitsCopyModel,
  WEIGHTS_COPY_NAMES,
  weightsCopyModel,
} from './logits-copy-graph.js';
export {
  type ActivationDtype,
  type AttentionLayout,
  type BaseModelInfo,
  BUNDLE_DEVICES,
  type BundleDevice,
  CAPTURED_FEATURE_OUTPUT,
  CAPTURED_ROW_OUTPUTS,
  CAUSAL_LM_IO,
  CHECKSUMS_FILE,
  type DeviceTuning,
  DRAFT_LM_IO,
  DRAFT_LM_SUMMARY,
  type DraftVocabulary,
  EAGLE_HEAD_CONTEXT_IO,
  EAGLE_HEAD_IO,
  EAGLE3_HEAD_IO,
  type GraphKind,
  HEAD_STEP_OUTPUTS,
  type KvCacheInfo,
  layerName,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestModel,
  type ManifestVersion,
  type ModelDims,
  type ModelInputs,
  type ModelOutputs,
  type ModelRole,
  type ModelSource,
  PLAIN_CACHE_OUTPUTS,
  PRESENT_ROWS_OUTPUT,
  QUANTIZED_BITS,
  quantizesActivations,
  READABLE_MANIFEST_VERSIONS,
  type RopeInfo,
  TARGET_IO,
  type TokenizerInfo,
  WEIGHT_FORMATS,
  type WeightFingerprint,
  type WeightFormatName,
  type WeightQuantization,
  weightsQuantizeActivations,
} from './manifest-schema.js';
export { findModel, parseManifest, validateManifest } from './manifest-validate.js';
export {
  type CausalLmLayout,
  capturedFeatureLayout,
  causalLmLayout,
  type Eagle3HeadLayout,
  type EagleHeadLayout,
  eagle3HeadLayout,
  eagleHeadLayout,
} from './model-layout.js';
export { checkModelPair, ModelMismatchError, type ModelPairFiles } from './model-pair.js';
export { checkTokenizerHash, sha256Hex } from './tokenizer-hash.js';
