import type { Prompt, TextGenerateOptions, TextGenerationStream } from '@treespec/generator';

/**
 * What the server needs of a generator: a {@link TextGenerator} is one. It streams one generation
 * at a time; the server never calls `stream` again before the last stream's result settled.
 */
export interface ServedGenerator {
  /**
   * Starts a generation. For a request not streamed the server passes `options.onStep` and times
   * the request's first token (`vllm:time_to_first_token_seconds`) by its first call; a generator
   * that never calls it leaves those requests out of that histogram.
   */
  stream(prompt: Prompt, options?: TextGenerateOptions): TextGenerationStream;
  /** The default drafter (null: plain decoding). */
  readonly drafter: { readonly name: string } | null;
  /** Every loaded drafter by name, selectable per request with `treespec.drafter`. */
  readonly drafters: Readonly<Record<string, unknown>>;
  readonly tokenizer: { readonly vocabSize: number };
}
