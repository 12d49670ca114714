import { DynamicTreeGrowth, SpeculativeDecoder } from '@treespec/core';
import { referenceGreedy, ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, type ToyCosts } from './clocked-toy.js';
import { CountingGrowth } from './helpers.js';

/**
 * The browser page's shape of costs, in plain calls of 3 ms: a row costs little beyond the first,
 * but the target's first call after the head's costs two plain calls more (on a quiet machine the
 * page measured 10.6 ms for a single-row step right after drafting against 3.6 ms for a plain
 * call), which every drafted step pays and a run of plain steps does not.
 */
const PAGE: ToyCosts = { verify: (n) => 3 + 0.2 * (n - 1), draftCall: 0.55, afterDraft: 6 };

describe('budget controller, pricing a plain step', () => {
  it('prices a plain step at what it costs after a plain step, not right after drafting, while it drafts the trees that pay', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 11, sharpness: 1 });
    const clock = new Clock();
    const target = new ClockedTarget(new ToyTarget(model), clock, PAGE);
    const growth = new CountingGrowth(
      new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 7, totalTokens: 25 }),
    );
    const inner = new ToyDrafter({
      target: target.inner,
      growth,
      quality: { kind: 'mixed', noise: 0.5, seed: 3 },
    });
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(inner, target, growth), growth },
      { clock: clock.read, start: { depth: 5, nodes: 10 } },
    );
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
    let tokens = 0;
    let steps = 0;
    let plainSteps = 0;
    for (let i = 0; i < 8; i++) {
      const prompt = [1, i, 4];
      const r = await decoder.generate(prompt, { maxTokens: 96 });
      expect(Array.from(r.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens: 96 })));
      tokens += r.tokens.length;
      steps += r.stats.controller?.steps ?? 0;
      plainSteps += r.stats.controller?.plainSteps ?? 0;
    }
    // A plain step right after a drafted one costs 9 ms, what a run of plain steps pays once, not
    // per step; counting such timings (a controller that mostly drafts takes little else) priced
    // it at 4.1 ms.
    expect(controller.controllerStats().costs.plainStep).toBeCloseTo(PAGE.verify(1), 6);
    // Deep trees still pay here, so it drafts them, re-timing a plain step now and then.
    expect(plainSteps / steps).toBeLessThan(0.1);
    expect((tokens * PAGE.verify(1)) / clock.now).toBeGreaterThan(1.3);
  });

  it('re-times a plain step priced at a busy moment, although that price made speculation look far ahead', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 11, sharpness: 1 });
    const clock = new Clock();
    // While the machine is busy, the plain steps that price a plain step take 40 ms.
    const busy: ToyCosts = { ...PAGE, verify: (n) => (n === 1 ? 40 : PAGE.verify(n)) };
    const target = new ClockedTarget(new ToyTarget(model), clock, busy);
    const growth = new CountingGrowth(
      new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 7, totalTokens: 25 }),
    );
    const inner = new ToyDrafter({
      target: target.inner,
      growth,
      quality: { kind: 'mixed', noise: 0.5, seed: 3 },
    });
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(inner, target, growth), growth },
      { clock: clock.read, start: { depth: 5, nodes: 10 } },
    );
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
    await decoder.generate([1, 2, 4], { maxTokens: 96 });
    expect(controller.costs.verify.at(1)).toBe(40);
    target.costs = PAGE;
    // 30 generations of about 11 steps: long enough for a price to go stale even while speculation
    // looks far ahead.
    for (let i = 0; i < 30; i++) await decoder.generate([1, i, 4], { maxTokens: 96 });
    // Drafting is about 1.4 times as fast as a 3 ms plain step here and 19 times as fast as a
    // 40 ms one: never re-timed while it looked that far ahead, the busy price stayed for good.
    expect(controller.costs.verify.at(1)).toBeCloseTo(PAGE.verify(1), 6);
  });
});
