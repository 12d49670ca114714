export {
  type BundleDrafter,
  type BundleOptions,
  type BundleSource,
  createTextGenerator,
  DEFAULT_TREE,
} from './model-bundle.js';
export {
  type TextGenerateOptions,
  type TextGenerationStream,
  TextGenerator,
  type TextGeneratorParts,
  type TextResult,
} from './text-generator.js';
