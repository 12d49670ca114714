import { type TargetCallOptions, Xoshiro128 } from '@treespec/core';
import { chiSquareTest } from '@treespec/core/testing';
import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { tinyTargetAfterPrompt } from './converted-target.js';
import { branchingTree, firstTwoTokens, softmax } from './target-distribution.js';
import { devPrompts, TINY } from './tiny.js';

/**
 * The tiny target draws tokens in its graph (manifest version 5): a sampling verification of
 * top-k trees, or a plain step at a temperature, feeds one uniform per row and fetches the drawn
 * tokens instead of `rows × vocab` logits.
 */

/** The index inverse-CDF sampling draws with `u` from `weights`, and how close `u` lies to a boundary. */
function inverseCdf(weights: ArrayLike<number>, u: number): { index: number; margin: number } {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i]!;
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    const before = cumulative;
    cumulative += weights[i]! / total;
    if (cumulative > u) return { index: i, margin: Math.min(u - before, cumulative - u) };
  }
  return { index: weights.length - 1, margin: 0 };
}

/**
 * The two-level draw in float64 (blocks of the power of two above √vocab: a block by `u1`, a
 * token within it by `u2`), and the smaller of the two levels' margins.
 */
function twoLevel(p: Float64Array, u1: number, u2: number): { token: number; margin: number } {
  const size = 2 ** Math.ceil(Math.log2(Math.sqrt(p.length)));
  const blocks = Float64Array.from({ length: Math.ceil(p.length / size) }, (_, b) =>
    p.subarray(b * size, (b + 1) * size).reduce((a, x) => a + x, 0),
  );
  const block = inverseCdf(blocks, u1);
  const within = inverseCdf(p.subarray(block.index * size, (block.index + 1) * size), u2);
  return { token: block.index * size + within.index, margin: Math.min(block.margin, within.margin) };
}

describe("the tiny target's in-graph sampler", () => {
  it("draws each tree row's token from its softmax at the temperature, a block by one uniform and a token of it by the other, with a finite logit sum", async () => {
    const { runner, prompt } = await tinyTargetAfterPrompt();
    try {
      expect(runner.sampledTokens).toBe(true);
      const tree = branchingTree();
      const { logits } = await runner.verify(tree);
      const copy = logits.slice();
      const vocab = runner.vocabSize;
      const rng = new Xoshiro128(7);
      const uniforms = new Float32Array(2 * tree.size);
      let compared = 0;
      for (const temperature of [1, 0.7, 1.6]) {
        for (let draw = 0; draw < 20; draw++) {
          for (let i = 0; i < uniforms.length; i++)
            uniforms[i] = Math.floor(rng.nextFloat() * 2 ** 24) / 2 ** 24;
          runner.reset();
          await runner.prefill(prompt);
          const step = await runner.verify(tree, { sample: { uniforms, temperature } });
          expect(step.logits.length).toBe(0);
          expect(step.sampledTokens!.length).toBe(tree.size);
          for (let row = 0; row < tree.size; row++) {
            expect(Number.isFinite(step.logitSums![row])).toBe(true);
            const p = softmax(copy, temperature, row, vocab);
            const { token, margin } = twoLevel(p, uniforms[2 * row]!, uniforms[2 * row + 1]!);
            // The graph's weights are float32: a uniform within 1e-5 of a boundary may go either way.
            if (margin < 1e-5) continue;
            expect(step.sampledTokens![row]).toBe(token);
            compared++;
          }
        }
      }
      expect(compared).toBeGreaterThan(600);
    } finally {
      await runner.dispose();
    }
  }, 60_000);

  it("returns each tree row's softmax weights and their sum when asked, its softmax at the temperature, beside the same drawn tokens", async () => {
    const { runner, prompt } = await tinyTargetAfterPrompt();
    try {
      expect(runner.sampleWeights).toBe(true);
      const tree = branchingTree();
      const { logits } = await runner.verify(tree);
      const copy = logits.slice();
      const vocab = runner.vocabSize;
      const uniforms = Float32Array.from({ length: 2 * tree.size }, (_, i) => ((i * 37) % 64) / 64);
      for (const temperature of [1, 0.7, 1.6]) {
        runner.reset();
        await runner.prefill(prompt);
        const drawn = await runner.verify(tree, { sample: { uniforms, temperature } });
        const tokens = Array.from(drawn.sampledTokens!);
        runner.reset();
        await runner.prefill(prompt);
        const step = await runner.verify(tree, { sample: { uniforms, temperature, weights: true } });
        expect(step.logits.length).toBe(0);
        expect(Array.from(step.sampledTokens!)).toEqual(tokens);
        expect(step.sampleWeights!.length).toBe(tree.size * vocab);
        expect(step.sampleMasses!.length).toBe(tree.size);
        let largestError = 0;
        for (let row = 0; row < tree.size; row++) {
          const p = softmax(copy, temperature, row, vocab);
          const mass = step.sampleMasses![row]!;
          for (let t = 0; t < vocab; t++)
            largestError = Math.max(
              largestError,
              Math.abs(step.sampleWeights![row * vocab + t]! / mass - p[t]!),
            );
        }
        expect(largestError).toBeLessThan(1e-6);
      }
    } finally {
      await runner.dispose();
    }
  });
});

/**
 * Seeded sampling through the loaders, where the target draws every step's tokens: the first two
 * tokens of SAMPLES generations (seeds 1…SAMPLES, so reproducible) with EAGLE-2's top-k trees at
 * temperature 1 against the target's exact distribution from its logits (first tokens below 4 %
 * pooled into one cell); Pearson's chi-square, false-alarm rate ALPHA = 1e-3.
 */
const SAMPLES = 400;
const ALPHA = 1e-3;
const TOP_FIRST = 0.04;

describe('sampling generations on the real tiny model, tokens drawn in the graph', () => {
  let generator: TextGenerator;
  /** The options of every target verification since the last reset. */
  const calls: (TargetCallOptions | undefined)[] = [];
  beforeAll(async () => {
    // Top-k trees, whose sampling verification follows the tokens the target draws: a seed then
    // gives plain decoding's tokens (the FR-Spec head would draw sampled trees at temperature 1).
    generator = await loadTreespec(TINY, {
      drafters: ['eagle2', 'hybrid'],
      budget: 'fixed',
      draftSampling: false,
      tuningCache: false,
    });
    const { target } = generator;
    const verify = target.verify.bind(target);
    target.verify = (tree, options) => {
      calls.push(options);
      return verify(tree, options);
    };
  }, 60_000);
  afterAll(async () => {
    await generator.dispose();
  });

  it('give plain decoding’s tokens for a seed whichever drafter drafts, and never fetch logits for them', async () => {
    for (const [i, { prompt }] of devPrompts(3).entries()) {
      calls.length = 0;
      const plain = await generator.generate(prompt, {
        maxTokens: 48,
        temperature: 1,
        seed: 40 + i,
        plain: true,
      });
      for (const drafter of ['eagle2', 'hybrid'] as const) {
        let drafted = 0;
        const spec = await generator.generate(prompt, {
          maxTokens: 48,
          temperature: 1,
          seed: 40 + i,
          drafter,
          onStep: (e) => {
            if (e.tree.size > 1) drafted++;
          },
        });
        // The hybrid may find drafting does not pay at temperature 1 and decode plainly.
        if (drafter === 'eagle2') expect(drafted).toBeGreaterThan(0);
        expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
      }
      expect(calls.length).toBeGreaterThan(48);
      expect(calls.every((options) => options?.sample !== undefined)).toBe(true);
    }
  }, 120_000);

  it('sample the target distribution exactly at temperature 1 (chi-square, alpha 1e-3)', async () => {
    const prompt = 'The history of the city';
    const probe = await generator.generate(prompt, { maxTokens: 1 });
    const ids = Array.from(probe.promptTokens);
    const { expected, top } = await firstTwoTokens(generator, ids, 1, TOP_FIRST);
    const counts = new Map<string, number>();
    let draftedSteps = 0;
    for (let i = 0; i < SAMPLES; i++) {
      const r = await generator.generate(prompt, {
        maxTokens: 3,
        temperature: 1,
        seed: 1 + i,
        drafter: 'eagle2',
        onStep: (e) => {
          if (e.tree.size > 1) draftedSteps++;
        },
      });
      const [t1, t2] = Array.from(r.tokens);
      const key = top.has(t1!) ? `${t1},${t2}` : 'other';
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    const test = chiSquareTest(counts, expected, SAMPLES);
    expect(draftedSteps).toBeGreaterThanOrEqual(SAMPLES);
    expect(test.degreesOfFreedom).toBeGreaterThanOrEqual(4);
    expect(test.pValue).toBeGreaterThan(ALPHA);
  }, 400_000);
});
