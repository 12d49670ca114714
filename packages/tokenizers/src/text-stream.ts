import type { FinishReason, Tokenizer } from '@treespec/core';
import type { StringStopCriterion } from './string-stop.js';

/** Tokens committed together, such as one step's. */
export interface TokenChunk {
  readonly tokens: ArrayLike<number>;
}

/**
 * Chunks of committed tokens, such as core's `GenerationStream`. When it has a `result`
 * promise, the stop-string cut is applied only if the generation really ended on a stop.
 */
export interface TokenChunks extends AsyncIterable<TokenChunk> {
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

  /**
   * Reads the whole stream and returns its text: the same text as iterating it, decoded once the
   * last chunk is in (all chunks but the last in one piece), not chunk by chunk as they come. A
   * generation nobody streams thus pays one decode instead of one per step (43 µs a token for the
   * tiny model on the 2-core reference machine).
   */
  async readAll(): Promise<string> {
    this.start();
    const chunks: TokenChunk[] = [];
    for await (const chunk of this.source) chunks.push(chunk);
    for await (const _ of this.run(inTwo(chunks))) {
      // the deltas accumulate in `text`
    }
    return this.collected;
  }

  [Symbol.asyncIterator](): AsyncIterator<string> {
    this.start();
    return this.run(this.source);
  }

  private start(): void {
    if (this.started) throw new TypeError('a TextStream can be iterated only once');
    this.started = true;
  }

  /**
   * Decodes `chunks` into deltas. Only the last chunk's boundary matters for the stop-string cut
   * (a match ends the generation, so it ends the last chunk), and the detokenizer's text does not
   * depend on how the ids are split into pushes.
   */
  private async *run(
    chunks: AsyncIterable<TokenChunk> | Iterable<TokenChunk>,
  ): AsyncGenerator<string, void, undefined> {
    const { tokenizer } = this;
    const stop = this.options.stop ?? null;
    const decoder = tokenizer.streamingDecoder({
      skipSpecialTokens: this.options.skipSpecialTokens ?? true,
      context: this.options.context,
    });
    let count = 0;
    // Text of the chunk that ends exactly where a known stop match keeps its tokens: it is held
    // until we know whether the generation ended there, since the cut may reach into it.
    let held: string | null = null;
    for await (const chunk of chunks) {
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

/** The chunks as at most two: every chunk but the last joined, then the last. */
function inTwo(chunks: readonly TokenChunk[]): TokenChunk[] {
  if (chunks.length <= 2) return [...chunks];
  const head: number[] = [];
  for (let c = 0; c < chunks.length - 1; c++) {
    const tokens = chunks[c].tokens;
    for (let i = 0; i < tokens.length; i++) head.push(tokens[i]);
  }
  return [{ tokens: head }, chunks[chunks.length - 1]];
}
