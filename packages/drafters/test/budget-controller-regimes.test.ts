import { DynamicTreeGrowth, SpeculativeDecoder, StaticTreeGrowth, StaticTreeShape } from '@treespec/core';
import { ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier, StochasticVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import type { BudgetControllerOptions } from '../src/index.js';
import { Clock, ClockedTarget, greedyAndSampledController } from './clocked-toy.js';

/**
 * A budget controller over toy drafters on a clocked toy target: greedy trees up to 5 levels and
 * 16 nodes, sampled trees of 2 levels and 3 nodes.
 */
function twoDrafters(options: BudgetControllerOptions) {
  const model = new ToyLanguageModel({ vocabSize: 20, order: 2, seed: 5, sharpness: 2 });
  const clock = new Clock();
  const target = new ClockedTarget(new ToyTarget(model), clock, {
    verify: (n) => 10 + 0.5 * (n - 1),
    draftCall: 0.5,
  });
  const greedyGrowth = new DynamicTreeGrowth({ topK: 3, frontier: 2, depth: 4, totalTokens: 17 });
  const sampledGrowth = new StaticTreeGrowth(new StaticTreeShape([[0, 0], [1]]));
  const quality = { kind: 'mixed', noise: 0.2 } as const;
  const controller = greedyAndSampledController(
    target,
    { greedy: greedyGrowth, sampled: sampledGrowth },
    quality,
    options,
  );
  return { target, controller, greedyGrowth };
}

describe('a budget controller over a greedy drafter and a shallower sampling drafter', () => {
  it('chooses, drafts and prices each kind of generation within the depths its own drafter grows', async () => {
    const { target, controller } = twoDrafters({ probeEvery: 4 });
    const choices = { greedy: { depth: 0, nodes: 0 }, sampling: { depth: 0, nodes: 0 } };
    const note = (kind: 'greedy' | 'sampling') => () => {
      choices[kind].depth = Math.max(choices[kind].depth, controller.lastChoice.depth);
      choices[kind].nodes = Math.max(choices[kind].nodes, controller.lastChoice.nodes);
    };
    const greedyDecoder = new SpeculativeDecoder({
      target,
      drafter: controller,
      verifier: new GreedyVerifier(),
    });
    await greedyDecoder.generate([1, 2, 3], { maxTokens: 200, onStep: note('greedy') });
    const verifier = new StochasticVerifier({ temperature: 1, seed: 7 });
    const samplingDecoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
    const r = await samplingDecoder.generate([1, 2, 3], { maxTokens: 200, onStep: note('sampling') });
    expect(choices.greedy.depth).toBe(5);
    expect(choices.greedy.nodes).toBe(16);
    // The sampling trees' depth caps never pass their own growth, whose timings file under its depths.
    expect(choices.sampling.depth).toBe(2);
    const draft = r.stats.controller?.costs.draft ?? [];
    expect(draft.length).toBeGreaterThan(0);
    for (const [depth] of draft) expect(depth).toBeLessThanOrEqual(2);
  });

  it('sizes the top-k trees of sampling generations below samplingFrom by value, and never the sampled ones', async () => {
    const { target, controller, greedyGrowth } = twoDrafters({ samplingFrom: 1 });
    const priced = { withPrices: 0, without: 0 };
    const priceNext = greedyGrowth.priceNext.bind(greedyGrowth);
    greedyGrowth.priceNext = (pricing) => {
      if (pricing) priced.withPrices++;
      else priced.without++;
      priceNext(pricing);
    };
    const sizes = new Set<number>();
    const generate = async (temperature: number) => {
      const verifier = new StochasticVerifier({ temperature, seed: 7 });
      const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
      return decoder.generate([1, 2, 3], {
        maxTokens: 300,
        onStep: ({ tree }) => {
          if (tree.size > 1 && tree.candidateKind === 'deterministic') sizes.add(tree.size);
        },
      });
    };
    await generate(0.7);
    // After its start trees, each drafted step hands the growth the measured prices, so its
    // trees follow each step's confidence rather than one capped size.
    expect(priced.withPrices).toBeGreaterThan(priced.without);
    expect(sizes.size).toBeGreaterThan(3);
    const before = { ...priced };
    await generate(1);
    expect(priced).toEqual(before);
  });

  it('drafts sampling generations below samplingFrom with the greedy drafter and from it with the sampling drafter', async () => {
    const { target, controller } = twoDrafters({ samplingFrom: 1, fixed: true });
    const kinds = async (temperature: number) => {
      const verifier = new StochasticVerifier({ temperature, seed: 7 });
      const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
      const seen = new Set<string>();
      await decoder.generate([1, 2, 3], {
        maxTokens: 40,
        onStep: ({ tree }) => {
          if (tree.size > 1) seen.add(tree.candidateKind);
        },
      });
      return [...seen];
    };
    expect(await kinds(0.7)).toEqual(['deterministic']);
    expect(await kinds(1)).toEqual(['sampled']);
    expect(await kinds(1.3)).toEqual(['sampled']);
    expect(() => twoDrafters({ samplingFrom: -1 })).toThrow(/samplingFrom/);
  });
});
