export {
  type Prompt,
  type TextGenerateOptions,
  type TextGenerationStream,
  TextGenerator,
  type TextGeneratorParts,
  type TextResult,
} from './text-generator.js';
