import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expNonPositive } from '../src/index.js';

/** Relative error of `expNonPositive(x)` against `Math.exp(x)`. */
function relativeError(x: number): number {
  const want = Math.exp(x);
  return Math.abs(expNonPositive(x) - want) / want;
}

describe('expNonPositive', () => {
  it('is within 4 units in the last place of Math.exp wherever e^x is a normal double', () => {
    fc.assert(
      fc.property(fc.double({ min: -708, max: 0, noNaN: true }), (x) => {
        expect(relativeError(x)).toBeLessThanOrEqual(4 * Number.EPSILON);
      }),
      { numRuns: 20_000, seed: 7 },
    );
    // Softmax exponents of float32 logits: differences of two floats near the row's largest.
    fc.assert(
      fc.property(
        fc.float({ min: -40, max: 40, noNaN: true }),
        fc.float({ min: 0, max: 40, noNaN: true }),
        (a, d) => {
          const max = Math.fround(a + d);
          expect(relativeError(Math.fround(a) - max)).toBeLessThanOrEqual(4 * Number.EPSILON);
        },
      ),
      { numRuns: 20_000, seed: 11 },
    );
  });

  it('is exact at 0 and at whole multiples of ln 2 / 64 near it', () => {
    expect(expNonPositive(0)).toBe(1);
    expect(expNonPositive(-0)).toBe(1);
    for (let k = 1; k < 200; k++)
      expect(relativeError((-k * Math.LN2) / 64)).toBeLessThanOrEqual(2 * Number.EPSILON);
  });

  it('underflows as Math.exp does, and keeps NaN', () => {
    for (const x of [-708.5, -720, -740, -745])
      expect(Math.abs(expNonPositive(x) - Math.exp(x))).toBeLessThan(1e-310);
    expect(expNonPositive(-745.3)).toBe(0);
    expect(expNonPositive(-1e6)).toBe(0);
    expect(expNonPositive(Number.NEGATIVE_INFINITY)).toBe(0);
    expect(expNonPositive(Number.NaN)).toBeNaN();
  });
});
