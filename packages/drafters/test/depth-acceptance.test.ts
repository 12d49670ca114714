import { describe, expect, it } from 'vitest';
import { DepthAcceptance } from '../src/depth-acceptance.js';

const expectedByDepth = (a: DepthAcceptance, d: number, c: number, depth: number): number[] => {
  const out = new Float64Array(depth);
  a.expectedByDepth(d, c, depth, out);
  return Array.from(out, (x) => Math.round(x * 1000) / 1000);
};

describe('depth acceptance', () => {
  it('starts every depth at the prior and expects nothing without a match', () => {
    const a = new DepthAcceptance(2, 4, 0.1, 0.5);
    expect(expectedByDepth(a, 0, 3, 3)).toEqual([0.5, 0.75, 0.875]);
    expect(expectedByDepth(a, 1, 0, 3)).toEqual([0, 0, 0]);
  });

  it('learns a rate per depth from what replays decide, and nothing from censored depths', () => {
    const a = new DepthAcceptance(1, 4, 0.1, 0.5);
    // Accepted to depth 1, then rejected where the tree went on: depth 1 passes, depth 2 fails.
    for (let i = 0; i < 40; i++) a.record(0, 2, 1, true);
    expect(a.rateAt(0, 2, 1)).toBeGreaterThan(0.98);
    expect(a.rateAt(0, 2, 2)).toBeLessThan(0.02);
    // Depths below 2 were never decided: they read as the nearest observed depth above.
    expect(a.rateAt(0, 2, 3)).toBe(a.rateAt(0, 2, 2));
    // Replays cut short (all committed tokens used, or a leaf reached) leave depth 2 alone.
    const before = a.rateAt(0, 2, 2);
    for (let i = 0; i < 10; i++) a.record(0, 2, 1, false);
    expect(a.rateAt(0, 2, 2)).toBe(before);
    // Another class is unaffected.
    expect(a.rateAt(0, 3, 1)).toBe(0.5);
  });

  it('expects of a cut tree the sum of the chances to reach each of its depths', () => {
    const a = new DepthAcceptance(1, 3, 0.5, 0.5);
    a.record(0, 1, 3, false);
    // A depth's first observation moves it halfway from the rate above: 0.75, 0.875, 0.9375.
    expect(expectedByDepth(a, 0, 1, 3)).toEqual([0.75, 1.406, 2.021]);
    a.record(0, 1, 0, true);
    // Depth 1 moves halfway to 0 (0.375); the deeper rates stay.
    expect(expectedByDepth(a, 0, 1, 3)).toEqual([0.375, 0.703, 1.011]);
  });
});
