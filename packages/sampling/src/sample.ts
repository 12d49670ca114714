import type { Xoshiro128 } from '@treespec/core';

/**
 * Draws a token from the unnormalised weights `weights[0..vocabSize)` by inverse CDF with one
 * uniform from `rng`. Returns -1 only when no weight is positive.
 */
export function sampleToken(weights: Float64Array, vocabSize: number, rng: Xoshiro128): number {
  let total = 0;
  for (let i = 0; i < vocabSize; i++) total += weights[i];
  const u = rng.nextFloat() * total;
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < vocabSize; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    cumulative += w;
    last = i;
    if (u < cumulative) return i;
  }
  return last;
}
