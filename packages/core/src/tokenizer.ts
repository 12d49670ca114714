/**
 * Turns committed token ids into text as they arrive, several at a time, without ever
 * splitting a UTF-8 character: the concatenation of all deltas plus `flush()` equals
 * `decode(all ids)`.
 */
export interface StreamingDecoder {
  /** Feeds ids and returns the text that is now final (possibly ""). */
  push(ids: ArrayLike<number>): string;
  /** Returns whatever text is still held back. */
  flush(): string;
  /** Starts over, optionally after new context ids. */
  reset(context?: ArrayLike<number>): void;
}

/** Text to token ids and back, as the model's tokenizer does it. */
export interface Tokenizer {
  /** Number of ids, special tokens included. */
  readonly vocabSize: number;
  /** Ids that end a generation (EOS, end-of-turn). */
  readonly eosTokenIds: readonly number[];
  /** Encodes text; `addSpecialTokens` (default true) adds what the tokenizer's template adds (e.g. BOS). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): Int32Array;
  /** Decodes ids; `skipSpecialTokens` defaults to true. */
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
  /**
   * A fresh streaming decoder. `context` (e.g. the prompt) makes the first pushed id decode as
   * it would after it (SentencePiece tokenizers drop a leading space at the start of a text).
   */
  streamingDecoder(options?: { skipSpecialTokens?: boolean; context?: ArrayLike<number> }): StreamingDecoder;
}

/**
 * The files of a Hugging Face tokenizer by part, as they are named in a model folder. Only
 * `tokenizer` is required; the others add special tokens, EOS ids and the chat template. The one
 * table every reader and writer of tokenizer files uses (tokenizers, the loaders, the converter).
 */
export const TOKENIZER_FILE_NAMES = {
  tokenizer: 'tokenizer.json',
  config: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
  specialTokensMap: 'special_tokens_map.json',
  chatTemplate: 'chat_template.jinja',
} as const;

/** A part of a tokenizer: a key of {@link TOKENIZER_FILE_NAMES}. */
export type TokenizerPart = keyof typeof TOKENIZER_FILE_NAMES;
