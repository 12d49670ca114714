import type { FinishReason, Tokenizer } from '@treespec/core';
import type { StringStopCriterion } from './string-stop.js';

/**
 * Chunks of committed tokens, such as core's `GenerationStream`. When it has a `result`
 * promise, the stop-string cut is applied only if the generation really ended on a stop.
 */
export interface TokenChunks extends AsyncIterable<{ readonly tokens: ArrayLike<number> }> {
  readonly result?: PromiseLike<{ readonly finishReason: FinishReason }>;
}

/** Options of {@link TextStream}. */
export interface TextStreamOptions {
  /** Leave out special tokens. Default true (use the same setting as the stop criterion). */
  skipSpecialTokens?: boolean;
  /**
   * The prompt's ids, so that the first generated token decodes as it does after the prompt
   * (the same context {@link StringStopCriterion} uses). Default: none.
   */
  context?: ArrayLike<number>;
  /** The string stop criterion of the generation, whose match is cut out of the text. */
  stop?: StringStopCriterion | null;
}

/**
 * Text deltas of a streamed generation: iterate it with `for await` to get strings that never
 * split a character, and whose concatenation is the generated text, with a matched stop string
 * (and anything after it) cut out exactly. Breaking out of the loop cancels the generation.
 *
 * ```ts
 * const stop = new StringStopCriterion(tokenizer, ['\nUser:']);
 * const stream = decoder.stream(prompt, { eosTokenIds: tokenizer.eosTokenIds, stopCriteria: [stop] });
 * for await (const text of new TextStream(tokenizer, stream, { context: prompt, stop })) write(text);
 * ```
 */
export class TextStream implements AsyncIterable<string> {
  private readonly tokenizer: Tokenizer;
  private readonly source: TokenChunks;
  private readonly options: TextStreamOptions;
  private collected = '';
  private started = false;

  constructor(tokenizer: Tokenizer, source: TokenChunks, options: TextStreamOptions = {}) {
    this.tokenizer = tokenizer;
    this.source = source;
    this.options = options;
  }

  /** All text yielded so far. */
  get text(): string {
    return this.collected;
  }

  /** Reads the whole stream and returns its text. */
  async readAll(): Promise<string> {
    for await (const _ of this) {
      // the deltas accumulate in `text`
    }
    return this.collected;
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    if (this.started) throw new TypeError('a TextStream can be iterated only once');
    this.started = true;
    return this.run();
  }

  private async *run(): AsyncGenerator<string, void, undefined> {
    const { tokenizer, source } = this;
    const stop = this.options.stop ?? null;
    const decoder = tokenizer.streamingDecoder({
      skipSpecialTokens: this.options.skipSpecialTokens ?? true,
      context: this.options.context,
    });
    let count = 0;
    // Text of the chunk that ends exactly where a known stop match keeps its tokens: it is held
    // until we know whether the generation ended there, since the cut may reach into it.
    let held: string | null = null;
    for await (const chunk of source) {
      if (held !== null) {
        yield this.emit(held);
        held = null;
      }
      count += chunk.tokens.length;
      const delta = decoder.push(chunk.tokens);
      const match = stop?.lastMatch;
      if (match && count === match.keep - match.promptLength) held = delta;
      else if (delta.length > 0) yield this.emit(delta);
    }
    let tail = (held ?? '') + decoder.flush();
    const match = stop?.lastMatch;
    if (match && count === match.keep - match.promptLength && (await this.endedOnStop())) {
      tail = tail.slice(0, Math.max(0, tail.length - match.trimChars));
    }
    if (tail.length > 0) yield this.emit(tail);
  }

  private async endedOnStop(): Promise<boolean> {
    const result = this.source.result;
    if (!result) return true;
    return (await result).finishReason === 'stop';
  }

  private emit(text: string): string {
    this.collected += text;
    return text;
  }
}
