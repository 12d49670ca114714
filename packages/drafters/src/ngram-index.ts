import { grown, grownCapacity } from './buffers.js';
import { foldHash, HASH_SEED } from './hash.js';

const TABLE_BITS = 16;

/**
 * Where each n-gram of a growing token sequence occurred, for n in [minLength, maxLength]: one
 * hash table of chain heads per n and a chain of earlier occurrences per position (as in LZ77
 * matchers). Occurrences are named by their end: the n-gram ending at `e` is `tokens[e - n .. e)`.
 * Appending a token indexes the n-grams ending at the new position only, so keeping the index
 * current costs O(maxLength) per token, whatever the length of the sequence.
 */
export class NgramIndex {
  readonly minLength: number;
  readonly maxLength: number;
  /** Ends below this are indexed. */
  private indexed = 0;
  private readonly heads: Int32Array[];
  private readonly previous: Int32Array[];
  private readonly mask = (1 << TABLE_BITS) - 1;

  constructor(minLength: number, maxLength: number) {
    this.minLength = minLength;
    this.maxLength = maxLength;
    const lengths = maxLength - minLength + 1;
    this.heads = Array.from({ length: lengths }, () => new Int32Array(1 << TABLE_BITS).fill(-1));
    this.previous = Array.from({ length: lengths }, () => new Int32Array(1024));
  }

  /** Number of positions indexed so far. */
  get length(): number {
    return this.indexed;
  }

  /** Forgets the sequence. */
  reset(): void {
    for (const head of this.heads) head.fill(-1);
    this.indexed = 0;
  }

  /** Indexes the n-grams ending at the positions not yet indexed, up to `end` (exclusive). */
  update(tokens: Int32Array, end: number): void {
    if (end > this.previous[0].length) {
      const capacity = grownCapacity(this.previous[0].length, end);
      for (let i = 0; i < this.previous.length; i++) this.previous[i] = grown(this.previous[i], capacity);
    }
    const { minLength, maxLength, mask } = this;
    for (let e = this.indexed; e < end; e++) {
      let hash = HASH_SEED;
      const longest = Math.min(maxLength, e);
      for (let n = 1; n <= longest; n++) {
        hash = foldHash(hash, tokens[e - n]);
        if (n < minLength) continue;
        const slot = hash & mask;
        const table = n - minLength;
        this.previous[table][e] = this.heads[table][slot];
        this.heads[table][slot] = e;
      }
    }
    this.indexed = Math.max(this.indexed, end);
  }

  /**
   * Appends to `ends` (from index `count`, at most up to `limit`) the ends of indexed earlier
   * occurrences of `tokens[length - n .. length)`, most recent first, skipping ends already listed,
   * and returns the new count. Walks at most `maxSteps` entries of the hash chain, so a bucket
   * crowded by collisions or by one very frequent n-gram costs a bounded time.
   */
  collect(
    tokens: Int32Array,
    length: number,
    n: number,
    ends: Int32Array,
    count: number,
    limit: number,
    maxSteps: number,
  ): number {
    let hash = HASH_SEED;
    for (let k = 1; k <= n; k++) hash = foldHash(hash, tokens[length - k]);
    const table = n - this.minLength;
    const previous = this.previous[table];
    let e = this.heads[table][hash & this.mask];
    for (let steps = 0; e >= 0 && steps < maxSteps && count < limit; steps++, e = previous[e]) {
      if (!sameBefore(tokens, e, length, n) || listed(ends, count, e)) continue;
      ends[count++] = e;
    }
    return count;
  }
}

/** True when the `n` tokens before `a` equal the `n` tokens before `b`. */
function sameBefore(tokens: Int32Array, a: number, b: number, n: number): boolean {
  for (let k = 1; k <= n; k++) if (tokens[a - k] !== tokens[b - k]) return false;
  return true;
}

function listed(values: Int32Array, count: number, value: number): boolean {
  for (let i = 0; i < count; i++) if (values[i] === value) return true;
  return false;
}
