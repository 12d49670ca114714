import { Xoshiro128 } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { ResidualDistribution } from '../src/residual-distribution.js';

const VOCAB = 12;
const SUPPORT = Int32Array.from([9, 2, 5, 0, 7]);

/** Softmax weights of a row (unnormalised) and their mass, as a target returns them. */
function weightsRow(seed: number): { weights: Float32Array; mass: number } {
  const rng = new Xoshiro128(seed);
  const weights = new Float32Array(VOCAB);
  let mass = 0;
  for (let t = 0; t < VOCAB; t++) {
    weights[t] = Math.exp(3 * rng.nextFloat());
    mass += weights[t]!;
  }
  return { weights, mass };
}

/** A draft distribution over `support` (0 elsewhere). */
function draftRow(seed: number, support: Int32Array | null): Float32Array {
  const rng = new Xoshiro128(seed);
  const q = new Float32Array(VOCAB);
  const tokens = support ?? Int32Array.from({ length: VOCAB }, (_, t) => t);
  let sum = 0;
  for (const t of tokens) {
    q[t] = rng.nextFloat() + 0.05;
    sum += q[t]!;
  }
  for (const t of tokens) q[t]! /= sum;
  return q;
}

/** The residual after rejecting draws from `scales`' q's, computed densely over every token. */
function denseResidual(p: number[], q: Float32Array, scales: number[]): number[] {
  let current = p;
  for (const scale of scales) {
    const residual = current.map((pt, t) => Math.max(pt - q[t]! * scale, 0));
    const sum = residual.reduce((a, b) => a + b, 0);
    current = residual.map((r) => r / sum);
  }
  return current;
}

describe('ResidualDistribution', () => {
  for (const support of [SUPPORT, null]) {
    const name = support ? 'over a reduced draft vocabulary' : 'over the whole vocabulary';

    it(`keeps p and each rejection's residual exactly as the dense computation ${name}`, () => {
      const { weights, mass } = weightsRow(1);
      const q = draftRow(2, support);
      const residual = new ResidualDistribution(VOCAB);
      residual.useSupport(support);
      residual.begin(weights, 0, 1 / mass);
      const p = Array.from(weights, (w) => w / mass);
      for (let t = 0; t < VOCAB; t++) expect(residual.probability(t)).toBeCloseTo(p[t]!, 12);
      // Three children drawn without replacement: q, then q renormalised off the first draw, …
      const drawnFirst = support ? support[0]! : 3;
      const drawnSecond = support ? support[1]! : 8;
      const scales = [1, 1 / (1 - q[drawnFirst]!), 1 / (1 - q[drawnFirst]! - q[drawnSecond]!)];
      for (let r = 0; r < scales.length; r++) {
        residual.reject(q, 0, scales[r]!);
        const expected = denseResidual(p, q, scales.slice(0, r + 1));
        for (let t = 0; t < VOCAB; t++) expect(residual.probability(t)).toBeCloseTo(expected[t]!, 6);
      }
      expect(residual.rejected).toBe(true);
    });

    it(`samples the residual at its probabilities ${name}`, () => {
      const { weights, mass } = weightsRow(3);
      const q = draftRow(4, support);
      const residual = new ResidualDistribution(VOCAB);
      residual.useSupport(support);
      residual.begin(weights, 0, 1 / mass);
      residual.reject(q, 0, 1);
      const expected = denseResidual(
        Array.from(weights, (w) => w / mass),
        q,
        [1],
      );
      const rng = new Xoshiro128(5);
      const draws = 200_000;
      const counts = new Array<number>(VOCAB).fill(0);
      for (let i = 0; i < draws; i++) counts[residual.sample(rng)]!++;
      // Each frequency within 5 standard errors of its probability (false alarm below 1e-5 per token).
      for (let t = 0; t < VOCAB; t++) {
        const sd = Math.sqrt((expected[t]! * (1 - expected[t]!)) / draws);
        expect(Math.abs(counts[t]! / draws - expected[t]!)).toBeLessThanOrEqual(5 * sd + 1e-9);
      }
    });

    it(`sums Σ min(p, q) over the support ${name}`, () => {
      const { weights, mass } = weightsRow(6);
      const q = draftRow(7, support);
      const residual = new ResidualDistribution(VOCAB);
      residual.useSupport(support);
      let expected = 0;
      for (let t = 0; t < VOCAB; t++) expected += Math.min(weights[t]! / mass, q[t]!);
      expect(residual.overlap(weights, 0, 1 / mass, q, 0)).toBeCloseTo(expected, 6);
    });
  }

  it('moves to another support and back', () => {
    const residual = new ResidualDistribution(VOCAB);
    residual.useSupport(SUPPORT);
    expect(residual.covers(9)).toBe(true);
    expect(residual.covers(1)).toBe(false);
    residual.useSupport(Int32Array.from([1]));
    expect(residual.covers(9)).toBe(false);
    expect(residual.covers(1)).toBe(true);
    residual.useSupport(null);
    for (let t = 0; t < VOCAB; t++) expect(residual.covers(t)).toBe(true);
  });
});
