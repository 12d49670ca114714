export type { OutputPlacement } from '@treespec/onnx';
export { assemble, type OpenGraph, type OpenSession } from './assemble.js';
export {
  type Budgets,
  CONTROLLED_CAPACITIES,
  DEVICE_DEFAULT_DRAFTERS,
  DEVICE_PRESETS,
  MODEL_FREE_BUDGETS,
  type ModelFreeBudget,
  mergeTree,
  resolveBudgets,
  withinContext,
} from './budgets.js';
export { checkedCorpus, corpusTextProblem, MAX_CORPUS_LENGTH } from './corpus.js';
export {
  BUNDLE_DRAFTERS,
  type BundleDrafter,
  DRAFTERS,
  type DrafterChoices,
  type DrafterContext,
  type DrafterEntry,
  type DrafterName,
} from './drafter-table.js';
export {
  bundleModelDrafter,
  MODEL_DRAFTER_NAMES,
  MODEL_DRAFTERS,
  type ModelDrafterEntry,
  type ModelDrafterName,
  SAMPLED_TREES_FROM,
  sampledTreesFrom,
} from './model-drafters.js';
export { type BundleOptions, HEAD_PROMPT_ROWS, type Plan, plan } from './plan.js';
export {
  KV_CACHE_LOCATION,
  type KvCacheLocation,
  kvCacheLocation,
  PROVIDER_SUPPORT,
  requireProviderRuns,
} from './provider-support.js';
export { preferModels, selectModels } from './select-models.js';
export { ADAPTIVE_STOPS, type AdaptiveStop, growthFor } from './tree-growth.js';
