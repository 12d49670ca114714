export { AcceptanceCalibration } from './acceptance-calibration.js';
export {
  BudgetController,
  type BudgetControllerOptions,
  type ControlledDrafter,
} from './budget-controller.js';
export {
  type BudgetMode,
  controlModelDrafter,
  type ModelDrafterControl,
  requireBudgetMode,
  SAMPLED_TREE_PATHS,
  sampledTreeGrowth,
} from './controlled-drafter.js';
export { draftCost, SizedCost, StepCostModel } from './cost-model.js';
export { DraftLmDrafter, type DraftLmDrafterOptions } from './draft-lm-drafter.js';
export { DraftSampler, type DraftSampling } from './draft-sampler.js';
export { EagleDrafter, type EagleDrafterOptions } from './eagle-drafter.js';
export { Eagle3Drafter, type Eagle3DrafterOptions, type Eagle3DraftModel } from './eagle3-drafter.js';
export {
  EntropyStopGrowth,
  type EntropyStopOptions,
  type ThresholdAdaptation,
} from './entropy-stop-growth.js';
export { FeatureColumns } from './feature-columns.js';
export { GENERATION_KINDS, generationKind, SAMPLING_BANDS, samplingGeneration } from './generation-kind.js';
export {
  HYBRID_POLICIES,
  HybridDrafter,
  type HybridDrafterOptions,
  type HybridPolicy,
} from './hybrid-drafter.js';
export { LookupDrafter, type LookupDrafterOptions } from './lookup-drafter.js';
export { MATCHING_TREE_TOKENS, type MatchingDrafter } from './matching-drafter.js';
export { type ModelFreeCut, ModelFreeTrees } from './model-free-trees.js';
export { type CommitRows, ModelTreeDrafter, type ModelTreeDrafterOptions } from './model-tree-drafter.js';
export { PricedModelFreeDrafter, type PricedModelFreeDrafterOptions } from './priced-model-free-drafter.js';
export { RobustAverage } from './robust-average.js';
export { SuffixAutomaton } from './suffix-automaton.js';
export { SuffixDrafter, type SuffixDrafterOptions } from './suffix-drafter.js';
export { SuffixMatch } from './suffix-match.js';
