export {
  type ChatContentPart,
  type ChatMessage,
  type ChatRenderOptions,
  ChatTemplate,
} from './chat-template.js';
export { ChatTemplateError, TokenIdError, TokenizerError } from './errors.js';
export {
  type ApplyChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  type EndOfTurn,
  HfTokenizer,
  type HfTokenizerOptions,
} from './hf-tokenizer.js';
export { type LoadTokenizerOptions, loadTokenizer, type TokenizerSource } from './load-tokenizer.js';
export { StopStringMatcher } from './stop-string-matcher.js';
export {
  CONTEXT_TOKENS,
  StreamingDetokenizer,
  type StreamingDetokenizerOptions,
} from './streaming-detokenizer.js';
export { StringStopCriterion, type StringStopMatch, type StringStopOptions } from './string-stop.js';
export { DEFAULT_TEMPLATE_BUDGET, type TemplateBudget } from './template-budget.js';
export { TextStream, type TextStreamOptions, type TokenChunk, type TokenChunks } from './text-stream.js';
export type { JsonInput, ResolvedFiles, TokenizerFiles } from './tokenizer-files.js';
