/**
 * Occurrence counts of the tokens in a context, kept up to date incrementally: committed tokens
 * are added as the sequence grows, and the path of a tree walk is pushed and popped, so the
 * counts at a tree node are exactly those of the context plain decoding would have there.
 * `distinct` lists each token with a non-zero count once, so penalties cost O(distinct tokens).
 */
export class TokenCounts {
  readonly counts: Int32Array;
  readonly distinct: Int32Array;
  distinctCount = 0;

  constructor(vocabSize: number) {
    this.counts = new Int32Array(vocabSize);
    this.distinct = new Int32Array(vocabSize);
  }

  clear(): void {
    for (let i = 0; i < this.distinctCount; i++) this.counts[this.distinct[i]] = 0;
    this.distinctCount = 0;
  }

  add(token: number): void {
    if (this.counts[token]++ === 0) this.distinct[this.distinctCount++] = token;
  }

  /** Undoes the most recent `add(token)` (calls must be strictly last-in, first-out). */
  remove(token: number): void {
    if (--this.counts[token] === 0) this.distinctCount--;
  }
}
