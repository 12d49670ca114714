export { ChunkChannel } from './chunk-channel.js';
export type { ControllerSeed } from './controller-seed.js';
export type { DraftModel, DraftModelStep } from './draft-model.js';
export { type CandidateKind, DraftTree } from './draft-tree.js';
export type { DraftContext, Drafter, DraftOutcome, StepOutcome } from './drafter.js';
export {
  AbortError,
  BusyError,
  ContextOverflowError,
  ContractError,
  describeValue,
  ModelFormatError,
  ModelLoadError,
  NumericError,
  OptionError,
  ProviderSupportError,
  ProviderUnavailableError,
  TreespecError,
  type TreespecErrorCode,
} from './errors.js';
export { expNonPositive } from './exp-non-positive.js';
export { type ControllerStats, type GenerationStats, StatsRecorder } from './generation-stats.js';
export { KeepPlan, planKeep } from './keep-plan.js';
export { MAX_SEED, Xoshiro128 } from './prng.js';
export {
  type DecoderParts,
  type GenerateOptions,
  type GenerationChunk,
  type GenerationResult,
  type GenerationStream,
  SpeculativeDecoder,
  type StepEvent,
} from './speculative-decoder.js';
export {
  EosStop,
  type FinishReason,
  type StopCriterion,
  type StopMatch,
  TokenSequenceStop,
} from './stop-criteria.js';
export type { RowSampling, TargetCallOptions, TargetModel, TargetStep } from './target-model.js';
export {
  type ChatContentPart,
  type ChatMessage,
  type ChatTokenizer,
  type StreamingDecoder,
  TOKENIZER_FILE_NAMES,
  type Tokenizer,
  type TokenizerPart,
} from './tokenizer.js';
export { argmax, logSumExp, topK } from './top-k.js';
export { checkTreeBudget, MAX_DRAFT_BIAS_CELLS, MAX_DRAFT_NODES } from './tree-budget-cap.js';
export {
  DYNAMIC_TREE_DEFAULTS,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
  type TreePricing,
} from './tree-growth.js';
export {
  MASKED_BIAS,
  writeAttentionBias,
  writeCausalBias,
  writePositionIds,
  writeTreeVisibility,
} from './tree-mask.js';
export { rootToLeafPaths } from './tree-paths.js';
export {
  requireBoolean,
  requireFunction,
  requireInteger,
  requireMethods,
  requireNumber,
  requireOneOf,
  requirePromptFits,
  requireSignal,
  requireTreeShape,
} from './validate.js';
export type { Verifier, VerifyInput } from './verifier.js';
export { FirstDraws, VerifyResult } from './verifier.js';
