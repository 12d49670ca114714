import { upperRegularizedGamma } from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../src/index.js';

describe('Xoshiro128 (xoshiro128**)', () => {
  it('reproduces the reference outputs for state (1, 2, 3, 4)', () => {
    const rng = Xoshiro128.fromState(1, 2, 3, 4);
    const out = Array.from({ length: 6 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it('gives the same stream for the same seed and a different one for the next seed', () => {
    const a = new Xoshiro128(42);
    const b = new Xoshiro128(42);
    const c = new Xoshiro128(43);
    const sa = Array.from({ length: 8 }, () => a.nextUint32());
    expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(sa);
    a.seed(42);
    expect(a.nextUint32()).toBe(sa[0]);
  });

  it('draws floats in [0, 1) that pass a 64-bin uniformity test (alpha 1e-3)', () => {
    const rng = new Xoshiro128(7);
    const bins = new Float64Array(64);
    const n = 200000;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.nextFloat();
      if (!(u >= 0 && u < 1)) outOfRange++;
      else bins[Math.floor(u * 64)]++;
    }
    expect(outOfRange).toBe(0);
    const e = n / 64;
    const chi2 = bins.reduce((s, o) => s + ((o - e) * (o - e)) / e, 0);
    expect(upperRegularizedGamma(63 / 2, chi2 / 2)).toBeGreaterThan(1e-3);
  });

  it('rejects seeds that are not 32-bit unsigned integers', () => {
    expect(() => new Xoshiro128(-1)).toThrow(/option "seed"/);
    expect(() => new Xoshiro128(1.5)).toThrow(/got 1.5/);
  });
});

describe('the chi-square p-value', () => {
  it('matches tabulated critical values (df 1: 3.841 -> 0.05; df 10: 23.209 -> 0.01; df 100: 124.342 -> 0.05)', () => {
    expect(upperRegularizedGamma(0.5, 3.841 / 2)).toBeCloseTo(0.05, 3);
    expect(upperRegularizedGamma(5, 23.209 / 2)).toBeCloseTo(0.01, 4);
    expect(upperRegularizedGamma(50, 124.342 / 2)).toBeCloseTo(0.05, 3);
  });
});
