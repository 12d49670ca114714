import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyTopK, applyTopP, softmaxInto } from '../src/index.js';

/** Top-k by sorting the whole row: the k-th largest logit, and everything below it removed. */
function sortedTopK(logits: Float32Array, k: number): Float32Array {
  const out = logits.slice();
  if (k <= 0 || k >= out.length) return out;
  const threshold = logits.slice().sort()[out.length - k];
  for (let i = 0; i < out.length; i++) if (out[i] < threshold) out[i] = Number.NEGATIVE_INFINITY;
  return out;
}

/** Top-p by sorting every probability: the smallest nucleus reaching p, ties kept together. */
function sortedTopP(logits: Float32Array, p: number): Float32Array {
  const out = logits.slice();
  if (p >= 1) return out;
  const probs = new Float64Array(out.length);
  softmaxInto(out, 0, out.length, probs);
  const order = probs.slice().sort();
  let sum = 0;
  let threshold = order[order.length - 1];
  for (let j = order.length - 1; j >= 0; j--) {
    sum += order[j];
    threshold = order[j];
    if (sum >= p) break;
  }
  for (let i = 0; i < out.length; i++) if (probs[i] < threshold) out[i] = Number.NEGATIVE_INFINITY;
  return out;
}

/**
 * Rows of float32 logits with many ties (values on a coarse grid) and masked tokens, from a few
 * entries to past the 64 probabilities top-p sorts before it sorts the whole row.
 */
const rows = fc
  .array(
    fc.oneof(
      fc.integer({ min: -40, max: 40 }).map((v) => v / 4),
      fc.constant(Number.NEGATIVE_INFINITY),
    ),
    {
      minLength: 2,
      maxLength: 300,
    },
  )
  .filter((v) => v.some((x) => x > Number.NEGATIVE_INFINITY))
  .map((v) => Float32Array.from(v));

describe('top-k and top-p select what sorting the whole row selects', () => {
  it('top-k: the same tokens kept, for every k', () => {
    fc.assert(
      fc.property(rows, fc.integer({ min: 0, max: 320 }), (logits, k) => {
        const got = logits.slice();
        applyTopK(got, 0, got.length, k, new Float32Array(got.length));
        expect(Array.from(got)).toEqual(Array.from(sortedTopK(logits, k)));
      }),
      { numRuns: 2000, seed: 3 },
    );
  });

  it('top-p: the same nucleus, reached within the most likely 64 tokens or beyond them', () => {
    fc.assert(
      fc.property(rows, fc.double({ min: 0.01, max: 1, noNaN: true }), (logits, p) => {
        const got = logits.slice();
        const n = got.length;
        applyTopP(got, 0, n, p, new Float64Array(n), new Float64Array(n));
        expect(Array.from(got)).toEqual(Array.from(sortedTopP(logits, p)));
      }),
      { numRuns: 2000, seed: 5 },
    );
  });

  it('top-p on rows of 100–300 tokens whose nucleus lies within the most likely 64', () => {
    let withinHead = 0;
    for (let t = 0; t < 200; t++) {
      const n = 100 + t;
      const logits = Float32Array.from({ length: n }, (_, i) => Math.round(Math.sin(i * 1.7 + t) * 40) / 4);
      for (const p of [0.3, 0.5, 0.8, 0.95]) {
        const got = logits.slice();
        applyTopP(got, 0, n, p, new Float64Array(n), new Float64Array(n));
        const want = sortedTopP(logits, p);
        expect(Array.from(got)).toEqual(Array.from(want));
        if (want.filter((x) => x > Number.NEGATIVE_INFINITY).length <= 64) withinHead++;
      }
    }
    expect(withinHead).toBeGreaterThan(400);
  });

  it('top-p on rows of 8192 tokens, whose nucleus lies past the first 64 and past the first 1024', () => {
    for (const [scale, p, from, to] of [
      [16, 0.9, 65, 1024],
      [0.5, 0.9, 1025, 8192],
    ] as const) {
      const logits = Float32Array.from(
        { length: 8192 },
        (_, i) => Math.sin(i * 0.37) * scale + (i % 97 === 0 ? 4 : 0),
      );
      const got = logits.slice();
      applyTopP(got, 0, 8192, p, new Float64Array(8192), new Float64Array(8192));
      const want = sortedTopP(logits, p);
      expect(Array.from(got)).toEqual(Array.from(want));
      const kept = want.filter((x) => x > Number.NEGATIVE_INFINITY).length;
      expect(kept).toBeGreaterThanOrEqual(from);
      expect(kept).toBeLessThanOrEqual(to);
    }
  });
});
