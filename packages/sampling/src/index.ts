export { Xoshiro128 } from '@treespec/core';
export { createVerifier } from './create-verifier.js';
export { type GreedyOptions, GreedyVerifier } from './greedy-verifier.js';
export { LogitsPipeline } from './logits-pipeline.js';
export {
  applyMinP,
  applyPresenceFrequencyPenalty,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  checkedArgmax,
  checkLogits,
  logSoftmaxInto,
  softmaxInto,
} from './logits-processors.js';
export { PenaltyContext } from './penalty-context.js';
export { sampleToken } from './sample.js';
export {
  GREEDY_BELOW,
  hasPenalties,
  type ResolvedSampling,
  resolveSampling,
  type SamplingOptions,
} from './sampling-options.js';
export { StochasticVerifier } from './stochastic-verifier.js';
export { TokenCounts } from './token-counts.js';
