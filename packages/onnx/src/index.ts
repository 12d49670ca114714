export { type CausalLmRunnerOptions, OnnxCausalLm } from './causal-lm-runner.js';
export { type DraftLmRunnerOptions, OnnxDraftLm } from './draft-lm-runner.js';
export {
  DraftModelRunner,
  type DraftModelRunnerOptions,
  type DraftModelShape,
} from './draft-model-runner.js';
export { type EagleHeadRunnerOptions, OnnxEagleHead } from './eagle-head-runner.js';
export { type Eagle3HeadRunnerOptions, OnnxEagle3Head } from './eagle3-head-runner.js';
export { Int64Buffer, readInt64, writeInt64 } from './int64.js';
export { type KvArray, KvCache, type KvDtype } from './kv-cache.js';
export {
  type ActivationDtype,
  type BaseModelInfo,
  CAPTURED_FEATURE_OUTPUT,
  CAUSAL_LM_IO,
  checkModelPair,
  type DraftVocabulary,
  EAGLE_HEAD_IO,
  EAGLE3_HEAD_IO,
  findModel,
  type GraphKind,
  type KvCacheInfo,
  layerName,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestModel,
  type ModelDims,
  type ModelInputs,
  ModelMismatchError,
  type ModelOutputs,
  type ModelPairFiles,
  type ModelRole,
  type ModelSource,
  parseManifest,
  QUANTIZED_BITS,
  type RopeInfo,
  type TokenizerInfo,
  validateManifest,
  WEIGHT_FORMATS,
  type WeightFingerprint,
  type WeightFormatName,
  type WeightQuantization,
} from './manifest.js';
export {
  type CausalLmLayout,
  capturedFeatureLayout,
  causalLmLayout,
  type Eagle3HeadLayout,
  type EagleHeadLayout,
  eagle3HeadLayout,
  eagleHeadLayout,
} from './model-layout.js';
