import type { ChunkChannel } from './chunk-channel.js';
import type { FinishReason, StopCriterion, StopMatch } from './stop-criteria.js';

/** Tokens committed by one step, as streamed. */
export interface GenerationChunk {
  /** Newly committed tokens that can no longer be taken back. */
  tokens: Int32Array;
  /** Step that committed them. */
  step: number;
}

/**
 * Where a generation stops and what may be streamed: checks the stop criteria and the token limit
 * on each step's new tokens, and emits the committed tokens no criterion may still take back.
 */
export class StopGate {
  /** Why the generation ended; `length` until something else stops it. */
  finishReason: FinishReason = 'length';
  /** The criterion that stopped the generation and where it matched. */
  stop: { criterion: StopCriterion; match: StopMatch } | undefined;
  /** Tokens (prompt included) to keep once stopped. */
  private keep = -1;
  private emitted: number;
  private readonly match: StopMatch = { end: 0, keep: 0 };
  private readonly limit: number;

  constructor(
    private readonly criteria: readonly StopCriterion[],
    private readonly promptLength: number,
    maxTokens: number,
    private readonly channel: ChunkChannel<GenerationChunk> | null,
  ) {
    this.emitted = promptLength;
    this.limit = promptLength + maxTokens;
  }

  /**
   * Checks the tokens `[from, length)` a step committed; returns how many tokens the generation
   * keeps when it stops here, or -1 when it goes on. The earliest match wins; the token limit cuts
   * a match that ends beyond it.
   */
  check(tokens: Int32Array, from: number, length: number): number {
    let stopEnd = -1;
    for (const c of this.criteria) {
      if (
        c.check(tokens, this.promptLength, from, length, this.match) &&
        (stopEnd < 0 || this.match.end < stopEnd)
      ) {
        stopEnd = this.match.end;
        this.keep = this.match.keep;
        this.finishReason = c.reason;
        this.stop = { criterion: c, match: { ...this.match } };
      }
    }
    if (length >= this.limit && (stopEnd < 0 || stopEnd > this.limit)) {
      this.keep = this.limit;
      this.finishReason = 'length';
      this.stop = undefined;
    }
    return this.keep;
  }

  /** Streams the committed tokens before `length` that no criterion still holds back. */
  emit(tokens: Int32Array, length: number, step: number): void {
    if (!this.channel) return;
    let hold = 0;
    for (const c of this.criteria) hold = Math.max(hold, c.pending(tokens, this.promptLength, length));
    this.push(tokens, length - hold, step);
  }

  /** Streams everything committed before `length`: the generation has ended. */
  flush(tokens: Int32Array, length: number, step: number): void {
    if (this.channel) this.push(tokens, length, step);
  }

  private push(tokens: Int32Array, end: number, step: number): void {
    if (end <= this.emitted || !this.channel) return;
    this.channel.push({ tokens: tokens.slice(this.emitted, end), step });
    this.emitted = end;
  }
}
