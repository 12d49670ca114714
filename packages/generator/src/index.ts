export {
  DEFAULT_MAX_QUEUED,
  DisposedError,
  GenerationQueue,
  QueueFullError,
} from './generation-queue.js';
export {
  type Prompt,
  type TextGenerateOptions,
  type TextGeneration,
  type TextGenerationStream,
  TextGenerator,
  type TextGeneratorParts,
  type TextResult,
} from './text-generator.js';
