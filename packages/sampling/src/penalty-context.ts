import { TokenCounts } from './token-counts.js';

/**
 * The token counts penalties need, tracked incrementally over a generation: `all` over the
 * whole context (prompt and generated, for the repetition penalty) and `generated` over
 * generated tokens only (for presence and frequency penalties). A verifier syncs it with the
 * committed tokens once per step and pushes/pops the tokens of the path it is walking.
 */
export class PenaltyContext {
  readonly all: TokenCounts;
  readonly generated: TokenCounts;
  private synced = 0;

  constructor(vocabSize: number) {
    this.all = new TokenCounts(vocabSize);
    this.generated = new TokenCounts(vocabSize);
  }

  reset(): void {
    this.all.clear();
    this.generated.clear();
    this.synced = 0;
  }

  /** Adds the committed tokens not seen yet. The sequence only grows within a generation. */
  sync(context: Int32Array, contextLength: number, promptLength: number): void {
    if (contextLength < this.synced) this.reset();
    for (let i = this.synced; i < contextLength; i++) {
      this.all.add(context[i]);
      if (i >= promptLength) this.generated.add(context[i]);
    }
    this.synced = contextLength;
  }

  /** Adds a token of the path being walked (it is generated). */
  push(token: number): void {
    this.all.add(token);
    this.generated.add(token);
  }

  /** Removes the most recently pushed token. */
  pop(token: number): void {
    this.generated.remove(token);
    this.all.remove(token);
  }
}
