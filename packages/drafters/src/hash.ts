/**
 * Folds a 32-bit integer into a running hash and finalises it (a murmur3-style avalanche), so
 * hashes of token sequences built one token at a time spread evenly over a power-of-two table.
 */
export function foldHash(hash: number, value: number): number {
  let h = (hash ^ Math.imul((value + 1) | 0, 0x9e3779b1)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seed of the sequence hashes. */
export const HASH_SEED = 0x2545f491;

/** The smallest power of two >= `n` (n >= 1). */
export function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}
