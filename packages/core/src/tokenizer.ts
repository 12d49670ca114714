/**
 * Turns committed token ids into text as they arrive, several at a time, without ever
 * splitting a UTF-8 character: the concatenation of all deltas plus `flush()` equals
 * `decode(all ids)`.
 */
export interface StreamingDecoder {
  /** Feeds ids and returns the text that is now final (possibly ""). */
  push(ids: ArrayLike<number>): string;
  /** Feeds one id; the same as `push([id])` without the array (the per-token path). */
  pushId(id: number): string;
  /** UTF-16 code units decoded but held back: what `flush()` would return now. */
  readonly heldBackLength: number;
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
  /** Optional: throws, naming the position, unless every id is one the tokenizer defines. */
  checkIds?(ids: ArrayLike<number>): void;
  /**
   * A fresh streaming decoder. `context` (e.g. the prompt) makes the first pushed id decode as
   * it would after it (SentencePiece tokenizers drop a leading space at the start of a text).
   */
  streamingDecoder(options?: { skipSpecialTokens?: boolean; context?: ArrayLike<number> }): StreamingDecoder;
}

/** A part of a chat message's content (an image, a text block …), as chat templates take it. */
export interface ChatContentPart {
  type: string;
  [key: string]: unknown;
}

/** A chat message, as `transformers` chat templates expect it. Extra fields reach the template. */
export interface ChatMessage {
  role: string;
  content: string | readonly ChatContentPart[] | null;
  [key: string]: unknown;
}

/** A tokenizer with the model's chat template: what a text generator needs to take chats. */
export interface ChatTokenizer extends Tokenizer {
  /** Renders a chat with the template and encodes it (the template writes the special tokens). */
  encodeChat(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): Int32Array;
  /** How the template ends a turn: `stopStrings` end a chat's generation. */
  readonly endOfTurn: { readonly stopStrings: readonly string[] };
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
