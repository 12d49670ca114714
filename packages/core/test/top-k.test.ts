import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { argmax, logSumExp, topK } from '../src/index.js';

describe('topK', () => {
  it('equals a stable sort by value, best first, ties to the smaller index', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 0, maxLength: 60 }),
        fc.integer({ min: 0, max: 70 }),
        (ints, k) => {
          const values = Float32Array.from(ints);
          const idx = new Int32Array(Math.max(k, 1));
          const val = new Float32Array(Math.max(k, 1));
          const n = topK(values, 0, values.length, k, idx, val);
          const expected = ints
            .map((v, i) => ({ v, i }))
            .sort((a, b) => b.v - a.v || a.i - b.i)
            .slice(0, k);
          expect(n).toBe(expected.length);
          expect(Array.from(idx.subarray(0, n))).toEqual(expected.map((e) => e.i));
        },
      ),
      { seed: 3, numRuns: 500 },
    );
  });

  it('reads a row at an offset and never selects NaN', () => {
    const values = Float32Array.from([9, 9, 1, Number.NaN, 3, 2]);
    const idx = new Int32Array(3);
    const val = new Float32Array(3);
    expect(topK(values, 2, 4, 3, idx, val)).toBe(3);
    expect(Array.from(idx)).toEqual([2, 3, 0]);
  });
});

describe('argmax and logSumExp', () => {
  it('finds the first maximum and reports NaN rows as -1', () => {
    expect(argmax(Float32Array.from([1, 5, 5, 2]), 0, 4)).toBe(1);
    expect(argmax(Float32Array.from([1, Number.NaN, 5]), 0, 3)).toBe(-1);
  });

  it('is stable for large logits (within 1e-12 relative, double precision)', () => {
    const v = Float64Array.from([1000, 1000, 999]);
    expect(logSumExp(v, 0, 3)).toBeCloseTo(1000 + Math.log(2 + Math.exp(-1)), 10);
  });
});
