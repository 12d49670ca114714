export {
  DEFAULT_MAX_QUEUED,
  DisposedError,
  GenerationQueue,
  QueueFullError,
} from './generation-queue.js';
export {
  type AdaptiveStop,
  BUNDLE_DRAFTERS,
  type BundleDrafter,
  type BundleOptions,
  type BundleSource,
  createTextGenerator,
  DEFAULT_DRAFT_LM_TREE,
  DEFAULT_TREE,
  GPU_TREE,
  treeBudget,
} from './model-bundle.js';
export { preferModels } from './prefer-models.js';
export {
  type Prompt,
  type TextGenerateOptions,
  type TextGenerationStream,
  TextGenerator,
  type TextGeneratorParts,
  type TextResult,
} from './text-generator.js';
