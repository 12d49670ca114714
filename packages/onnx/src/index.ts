export { type CausalLmRunnerOptions, OnnxCausalLm } from './causal-lm-runner.js';
export { type DraftLmRunnerOptions, OnnxDraftLm } from './draft-lm-runner.js';
export {
  DraftModelRunner,
  type DraftModelRunnerOptions,
  type DraftModelShape,
} from './draft-model-runner.js';
export { type EagleHeadRunnerOptions, OnnxEagleHead } from './eagle-head-runner.js';
export { Int64Buffer, readInt64, writeInt64 } from './int64.js';
export { KV_CHUNK_ROWS, type KvArray, KvCache, type KvDtype } from './kv-cache.js';
export {
  type ActivationDtype,
  type AttentionLayout,
  type BaseModelInfo,
  CAUSAL_LM_IO,
  checkModelPair,
  EAGLE_HEAD_IO,
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
  causalLmLayout,
  type EagleHeadLayout,
  eagleHeadLayout,
} from './model-layout.js';
export { SharedKvCache } from './shared-kv-cache.js';
