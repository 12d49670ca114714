import {
  type Drafter,
  DynamicTreeGrowth,
  type GenerationResult,
  SpeculativeDecoder,
  type TreeGrowth,
  type Verifier,
} from '@treespec/core';
import {
  referenceGreedy,
  ToyDrafter,
  type ToyDraftQuality,
  ToyLanguageModel,
  ToyTarget,
} from '@treespec/core/testing';
import { GreedyVerifier, StochasticVerifier } from '@treespec/sampling';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BudgetController,
  type BudgetControllerOptions,
  HybridDrafter,
  SuffixDrafter,
} from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, type ToyCosts } from './clocked-toy.js';
import { FeatureLedger, repeatingPrompt } from './helpers.js';

interface Toy {
  model: ToyLanguageModel;
  clock: Clock;
  target: ClockedTarget;
  growth: TreeGrowth;
  drafted: ClockedDrafter;
  controller: BudgetController;
}

function toy(
  model: ToyLanguageModel,
  quality: ToyDraftQuality,
  costs: ToyCosts,
  options: BudgetControllerOptions & { featureSize?: number } = {},
): Toy {
  const clock = new Clock();
  const featureSize = options.featureSize ?? 0;
  const target = new ClockedTarget(new ToyTarget(model, { featureSize }), clock, costs);
  const growth = new DynamicTreeGrowth({ topK: 3, frontier: 2, depth: 5, totalTokens: 25 });
  const inner = new ToyDrafter({
    target: target.inner,
    growth,
    quality,
    checkFeatures: featureSize > 0,
  });
  const drafted = new ClockedDrafter(featureSize > 0 ? new FeatureLedger(inner) : inner, target);
  const controller = new BudgetController({ drafter: drafted, growth }, { clock: clock.read, ...options });
  return { model, clock, target, growth, drafted, controller };
}

async function run(t: Toy, prompt: readonly number[], maxTokens: number, drafter: Drafter = t.controller) {
  const decoder = new SpeculativeDecoder({ target: t.target, drafter, verifier: new GreedyVerifier() });
  const result = await decoder.generate(prompt, { maxTokens });
  expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(t.model, prompt, { maxTokens })));
  return result;
}

function controllerOf(result: GenerationResult) {
  const c = result.stats.controller;
  if (!c) throw new Error('no controller statistics');
  return c;
}

const cheapVerify: ToyCosts = { verify: (n) => 10 + 0.05 * n, draftCall: 0.1 };
const dearVerify: ToyCosts = { verify: (n) => 10 + 15 * (n - 1), draftCall: 0.5 };

describe('budget controller', () => {
  it('keeps greedy output identical to plain decoding whatever the clock makes it choose', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.constantFrom<ToyDraftQuality>(
          { kind: 'perfect' },
          { kind: 'mixed', noise: 0.5 },
          { kind: 'adversarial' },
        ),
        async (seed, perNode, draftCall, quality) => {
          const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed, sharpness: 2 });
          // Each verification also takes a little jitter, so choices shift from step to step.
          let jitter = seed;
          const costs: ToyCosts = {
            verify: (n) => {
              jitter = (jitter * 1103515245 + 12345) >>> 0;
              return 5 + perNode * (n - 1) + (jitter % 7);
            },
            draftCall,
          };
          const t = toy(model, quality, costs, { probeEvery: 3, maxPlainRun: 8 });
          for (const prompt of [[1, seed % 30, 4], repeatingPrompt(model, [2, seed % 30], 20)]) {
            await run(t, prompt, 60);
          }
        },
      ),
      { seed: 7, numRuns: 40 },
    );
  });

  it('drafts large trees when verification is nearly free and a good drafter guesses well', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 3, sharpness: 2 });
    const t = toy(model, { kind: 'perfect' }, cheapVerify);
    await run(t, [1, 2, 3], 40);
    const r = await run(t, [1, 5, 9], 120);
    const c = controllerOf(r);
    expect(c.plainSteps).toBeLessThanOrEqual(1);
    expect(c.meanNodes).toBeGreaterThan(10);
    expect(c.meanDepth).toBeGreaterThan(4);
    expect(r.stats.tau).toBeGreaterThan(3);
  });

  it('decodes plainly when every drafted node costs more than it can gain', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 4, sharpness: 2 });
    const t = toy(model, { kind: 'mixed', noise: 0.5 }, dearVerify);
    await run(t, [1, 2, 3], 60);
    const r = await run(t, [1, 5, 9], 200);
    const c = controllerOf(r);
    expect(c.plainSteps).toBeGreaterThan(0.85 * c.steps);
    // Re-probing stays rare: two drafted trees (the probe and one to time steady drafting) per
    // doubling run of plain steps.
    expect(c.steps - c.plainSteps).toBeLessThanOrEqual(8);
  });

  it('keeps what its probes out of plain decoding lose within 2 % of the time decoded plainly', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 4, sharpness: 2 });
    const plainMs = 10;
    // A probe of the start tree (depth 3, 4 nodes) costs 72 ms and commits one token: 62 ms lost
    // to plain decoding, twice per probe (the probe and the step that times steady drafting).
    const t = toy(model, { kind: 'adversarial' }, dearVerify);
    await run(t, [1, 2, 3], 200);
    const start = t.clock.now;
    const r = await run(t, [1, 5, 9], 3000);
    const c = controllerOf(r);
    expect(c.steps - c.plainSteps).toBeGreaterThan(0);
    // Doubling runs of plain steps alone (up to 128) lost about 10 % here.
    expect(t.clock.now - start).toBeLessThan(1.02 * plainMs * r.tokens.length);
  });

  it('lets greedy trees sized by value probe on 3 % of the time decoded plainly until 8 probes in a row have lost, then on 1 %, as other generations do', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 4, sharpness: 2 });
    const plainMs = 10;
    // Every draft is wrong and a draft call costs a plain step: each probe loses 10 ms or more.
    const dearDrafts: ToyCosts = { verify: (n) => 10 + 15 * (n - 1), draftCall: 10 };
    /** What two windows of 3000 tokens drafted and lost against plain decoding, after 200 tokens. */
    const probing = async (options: BudgetControllerOptions) => {
      const t = toy(model, { kind: 'adversarial' }, dearDrafts, options);
      await run(t, [1, 2, 3], 200);
      const windows: { drafted: number; lost: number }[] = [];
      for (let w = 0; w < 2; w++) {
        const start = t.clock.now;
        const r = await run(t, [1, 5, 9], 3000);
        const c = controllerOf(r);
        windows.push({
          drafted: c.steps - c.plainSteps,
          lost: (t.clock.now - start) / (plainMs * r.tokens.length) - 1,
        });
      }
      return windows;
    };
    const valued = await probing({});
    const wide = await probing({ probeShare: 0.03 });
    const narrow = await probing({ probeShare: 0.01 });
    const candidates = await probing({ valueTrees: false });
    // Given, the larger share holds: it probes more than the smaller one, and loses more.
    expect(wide[0]!.drafted).toBeGreaterThan(1.3 * narrow[0]!.drafted);
    expect(wide[1]!.lost).toBeGreaterThan(0.014);
    for (const windows of [valued, wide]) for (const { lost } of windows) expect(lost).toBeLessThan(0.03);
    // By default, probes that keep losing settle the value trees on the smaller share.
    expect(valued[0]!.drafted).toBeLessThan(wide[0]!.drafted);
    expect(valued[1]!.lost).toBeLessThan(0.011);
    for (const windows of [narrow, candidates])
      for (const { lost } of windows) expect(lost).toBeLessThan(0.012);
  });

  it('starts greedy generations from the start tree and sampling ones from the small sampling start tree', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 4, sharpness: 2 });
    const firstTrees = async (verifier: Verifier): Promise<number[]> => {
      const t = toy(model, { kind: 'mixed', noise: 0.5 }, cheapVerify);
      const sizes: number[] = [];
      const decoder = new SpeculativeDecoder({ target: t.target, drafter: t.controller, verifier });
      await decoder.generate([1, 2, 3], { maxTokens: 40, onStep: (e) => sizes.push(e.tree.size) });
      return sizes.filter((size) => size > 1).slice(0, 8);
    };
    expect(await firstTrees(new GreedyVerifier())).toEqual(Array(8).fill(5));
    const sampling = new StochasticVerifier({ temperature: 1 });
    sampling.setSeed(3);
    expect(await firstTrees(sampling)).toEqual(Array(8).fill(2));
  });

  it('probes out of plain decoding with the start tree when greedy (trees chosen among candidates), with the best-rated tree when sampling', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 4, sharpness: 2 });
    // Every draft is wrong: the best-rated tree is the cheapest (one node at depth 1), and a
    // probe of the start tree (depth 3, 4 nodes) costs 62 ms more than the plain step it replaces.
    const t = toy(model, { kind: 'adversarial' }, dearVerify, { valueTrees: false });
    const probeSizes = async (verifier: Verifier): Promise<number[]> => {
      const sizes: number[] = [];
      const decoder = new SpeculativeDecoder({ target: t.target, drafter: t.controller, verifier });
      await decoder.generate([1, 2, 3], { maxTokens: 200 });
      await decoder.generate([1, 5, 9], {
        maxTokens: 1500,
        onStep: (e) => {
          if (t.controller.lastChoice.probe) sizes.push(e.tree.size);
        },
      });
      return sizes;
    };
    const greedy = await probeSizes(new GreedyVerifier());
    const sampling = new StochasticVerifier({ temperature: 1 });
    sampling.setSeed(7);
    const sampled = await probeSizes(sampling);
    expect(greedy.length).toBeGreaterThan(0);
    expect(Math.max(...greedy)).toBe(5);
    expect(sampled.length).toBeGreaterThan(0);
    expect(Math.max(...sampled)).toBe(2);
  });

  it('stops drafting a drafter that is always wrong, then finds its way back once drafts are right again', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 5, sharpness: 2 });
    const costs: ToyCosts = { verify: (n) => 10 + 0.5 * (n - 1), draftCall: 1 };
    const t = toy(model, { kind: 'adversarial' }, costs, { maxPlainRun: 32 });
    const bad = t.drafted.inner;
    const wrong = await run(t, [1, 2, 3], 150);
    expect(controllerOf(wrong).plainSteps).toBeGreaterThan(0.8 * controllerOf(wrong).steps);
    t.drafted.inner = new ToyDrafter({
      target: t.target.inner,
      growth: t.growth,
      quality: { kind: 'perfect' },
    });
    expect(t.drafted.inner).not.toBe(bad);
    const back = controllerOf(await run(t, [1, 7, 3], 200));
    expect(back.steps - back.plainSteps).toBeGreaterThan(10);
    const right = await run(t, [1, 8, 3], 200);
    const c = controllerOf(right);
    expect(c.plainSteps).toBeLessThan(0.1 * c.steps);
    expect(right.stats.tau).toBeGreaterThan(2);
  });

  it('finds its way back to drafting after a long losing stretch has taught every band that drafts lose', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 5, sharpness: 2 });
    const plainMs = 10;
    // An accepted node pays (2 ms a row, 1 ms a draft call), so only the drafts decide.
    const costs: ToyCosts = { verify: (n) => plainMs + 2 * (n - 1), draftCall: 1 };
    const t = toy(model, { kind: 'adversarial' }, costs);
    /** Milliseconds per token of a 400-token generation, and its share of plain steps. */
    const window = async (p: number) => {
      const start = t.clock.now;
      const r = await run(t, [1, p, 3], 400);
      const c = controllerOf(r);
      return { ms: (t.clock.now - start) / r.tokens.length, plain: c.plainSteps / c.steps };
    };
    // 3200 tokens of drafts that never pay: past the 200 observations each band remembers.
    const losing = [];
    for (let p = 0; p < 8; p++) losing.push(await window(p));
    // Probes out of plain decoding cost at most about the settled 1 % share.
    for (const { ms } of losing.slice(1)) expect(ms).toBeLessThan(1.015 * plainMs);
    t.drafted.inner = new ToyDrafter({
      target: t.target.inner,
      growth: t.growth,
      quality: { kind: 'perfect' },
    });
    const back = await window(10);
    const right = await window(11);
    // Before settled probes started the bands afresh, both windows stayed plain (10.02 ms a token).
    expect(back.ms).toBeLessThan(0.9 * plainMs);
    expect(right.ms).toBeLessThan(0.7 * plainMs);
    expect(right.plain).toBeLessThan(0.05);
  });

  it("predicts its start trees from the drafter's own probabilities before anything is verified", async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 6, sharpness: 2 });
    const t = toy(model, { kind: 'perfect' }, cheapVerify);
    const decoder = new SpeculativeDecoder({
      target: t.target,
      drafter: t.controller,
      verifier: new GreedyVerifier(),
    });
    // Every step of a short first generation drafts the start tree (depth 3, 4 nodes), the last
    // one cut to the tokens the generation can still take; the stats count the nodes verified.
    const verified: number[] = [];
    const r = await decoder.generate([1, 5, 9], {
      maxTokens: 12,
      onStep: (step) => verified.push(step.tree.size - 1),
    });
    const c = controllerOf(r);
    expect(c.steps - c.plainSteps).toBe(c.steps);
    expect(verified.slice(0, -1).every((nodes) => nodes === 4)).toBe(true);
    expect(verified.at(-1)).toBeLessThan(4);
    expect(c.meanNodes).toBeCloseTo(verified.reduce((a, b) => a + b, 0) / verified.length, 12);
    // Before any verification each node's chance is its own probability, never above its parent's:
    // a perfect drafter's start tree expects more than its root, and less than all four nodes.
    expect(c.predictedTokensPerStep).toBeGreaterThan(1.2);
    expect(c.predictedTokensPerStep).toBeLessThan(5);
  });

  it('predicts the tokens per step it gets, once calibrated', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 6, sharpness: 2 });
    const t = toy(model, { kind: 'mixed', noise: 0.4 }, { verify: (n) => 10 + n, draftCall: 1 });
    for (let p = 0; p < 4; p++) await run(t, [1, p, 2], 100);
    const c = controllerOf(await run(t, [1, 9, 2], 200));
    expect(c.steps - c.plainSteps).toBeGreaterThan(20);
    expect(Math.abs(c.predictedTokensPerStep - c.actualTokensPerStep)).toBeLessThan(
      0.25 * c.actualTokensPerStep,
    );
  });

  it('shows a feature drafter every feature row once, in order, across plain steps', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed, sharpness: 2 });
      const costs: ToyCosts = { verify: (n) => 10 + 2 * (n - 1), draftCall: 0.5 };
      const t = toy(model, { kind: 'mixed', noise: 0.5 }, costs, {
        featureSize: 3,
        probeEvery: 2,
        maxPlainRun: 4,
      });
      expect(t.controller.needsFeatures).toBe(true);
      const r = await run(t, [1, seed, 4], 120);
      const c = controllerOf(r);
      expect(c.plainSteps).toBeGreaterThan(0);
      expect(c.steps - c.plainSteps).toBeGreaterThan(0);
    }
  });

  it('runs as the model part of a hybrid drafter and reports its choices through it', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 8, sharpness: 2 });
    const t = toy(
      model,
      { kind: 'mixed', noise: 0.3 },
      { verify: (n) => 10 + n, draftCall: 1 },
      { featureSize: 3 },
    );
    const hybrid = new HybridDrafter(t.controller, [new SuffixDrafter()]);
    const r = await run(t, repeatingPrompt(model, [1, 8], 30), 120, hybrid);
    expect(controllerOf(r).steps).toBe(hybrid.steps[0]);
  });

  it('starts from a seed: no plain step to time, the start tree first', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 9, sharpness: 2 });
    const t = toy(model, { kind: 'perfect' }, cheapVerify, {
      seed: {
        verifyMs: [
          [1, 10],
          [25, 11.2],
        ],
        draftMs: [[6, 0.7]],
        overheadMs: 0,
      },
      start: { depth: 4, nodes: 7 },
    });
    const decoder = new SpeculativeDecoder({
      target: t.target,
      drafter: t.controller,
      verifier: new GreedyVerifier(),
    });
    const first: number[] = [];
    await decoder.generate([1, 2, 3], {
      maxTokens: 20,
      onStep: () => first.push(t.controller.lastChoice.nodes),
    });
    expect(first[0]).toBe(7);
    expect(t.controller.depths).toContain(4);
    expect(Array.from(t.controller.nodes)).toContain(7);
    expect(first).not.toContain(0);
    expect(t.controller.snapshot().verifyMs.find(([n]) => n === 1)?.[1]).toBe(10);
  });

  it('rejects a growth that cannot be capped', () => {
    const growth = new DynamicTreeGrowth();
    const uncappable: TreeGrowth = Object.assign(Object.create(growth), { capNext: undefined });
    const model = new ToyLanguageModel({ vocabSize: 10, order: 1, seed: 1 });
    const drafter = new ToyDrafter({ target: new ToyTarget(model), growth });
    expect(() => new BudgetController({ drafter, growth: uncappable })).toThrow(/cannot be capped per step/);
  });

  it('rejects a growth that is not the one its drafter grows with', () => {
    const model = new ToyLanguageModel({ vocabSize: 10, order: 1, seed: 1 });
    const drafter = new ToyDrafter({ target: new ToyTarget(model), growth: new DynamicTreeGrowth() });
    expect(drafter.growth).toBeDefined();
    expect(() => new BudgetController({ drafter, growth: new DynamicTreeGrowth() })).toThrow(
      /is not the one it grows its trees with/,
    );
  });
});
