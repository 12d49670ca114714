import { DynamicTreeGrowth, SpeculativeDecoder } from '@treespec/core';
import { referenceGreedy, ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier, StochasticVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, type ToyCosts } from './clocked-toy.js';
import { CountingGrowth } from './helpers.js';

/** The tiny model's costs on the 2-core reference machine (docs/benchmarks.md), in ms. */
const REFERENCE: ToyCosts = { verify: (n) => 3 + 0.2 * (n - 1), draftCall: 0.55 };

/** Clocked ms per generated token of one short greedy generation after `prompt`. */
async function msPerToken(
  model: ToyLanguageModel,
  dynamic: DynamicTreeGrowth,
  options: { fixed?: boolean; start?: { depth: number; nodes: number } },
  prompt: number[],
  maxTokens: number,
): Promise<number> {
  const clock = new Clock();
  const target = new ClockedTarget(new ToyTarget(model), clock, REFERENCE);
  const growth = new CountingGrowth(dynamic);
  const inner = new ToyDrafter({
    target: target.inner,
    growth,
    quality: { kind: 'mixed', noise: 0.3, seed: 2 },
  });
  const controller = new BudgetController(
    { drafter: new ClockedDrafter(inner, target, growth), growth },
    { clock: clock.read, ...options },
  );
  const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
  const result = await decoder.generate(prompt, { maxTokens });
  expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens })));
  return clock.now / result.tokens.length;
}

describe('budget controller, cold start', () => {
  it('is as fast as the fixed budget it starts from on its first short generation', async () => {
    const ratios: number[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed, sharpness: 2 });
      const prompt = [1, seed, 4];
      const capacity = () => new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 7, totalTokens: 25 });
      const fixedBudget = new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 4, totalTokens: 11 });
      const auto = await msPerToken(model, capacity(), { start: { depth: 5, nodes: 10 } }, prompt, 96);
      const fixed = await msPerToken(model, fixedBudget, { fixed: true }, prompt, 96);
      ratios.push(auto / fixed);
      expect(REFERENCE.verify(1) / auto).toBeGreaterThan(1.4);
    }
    // Time per token against the fixed budget's: within 5 % on every text, within 1.5 % on
    // average, the price of pricing a plain step, which takes two plain steps (before the start
    // tree, the calibration's mass prior and the per-depth draft costs were fixed: 1.23 to 1.29).
    for (const r of ratios) expect(r).toBeLessThan(1.05);
    expect(ratios.reduce((a, b) => a + b) / ratios.length).toBeLessThan(1.015);
  });
});

describe('budget controller, when speculation does not pay', () => {
  it('decodes within 2 % of plain decoding’s speed over a run of sampled generations', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 11, sharpness: 1 });
    const clock = new Clock();
    const target = new ClockedTarget(new ToyTarget(model), clock, REFERENCE);
    const growth = new CountingGrowth(
      new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 7, totalTokens: 25 }),
    );
    const inner = new ToyDrafter({
      target: target.inner,
      growth,
      quality: { kind: 'mixed', noise: 0.7, seed: 3 },
    });
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(inner, target, growth), growth },
      { clock: clock.read, start: { depth: 5, nodes: 10 } },
    );
    const verifier = new StochasticVerifier({ temperature: 1 });
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
    let tokens = 0;
    let plainSteps = 0;
    let steps = 0;
    for (let i = 0; i < 20; i++) {
      verifier.setSeed(100 + i);
      const r = await decoder.generate([1, i % 30, 4], { maxTokens: 128 });
      tokens += r.tokens.length;
      steps += r.stats.controller?.steps ?? 0;
      plainSteps += r.stats.controller?.plainSteps ?? 0;
    }
    // Plain decoding would take one plain step per token.
    const plainMs = tokens * REFERENCE.verify(1);
    expect(plainMs / clock.now).toBeGreaterThan(0.98);
    // Mostly plain steps; the drafted ones are probes and the few trees that paid.
    expect(plainSteps / steps).toBeGreaterThan(0.9);
  });
});
