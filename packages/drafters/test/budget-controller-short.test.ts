import { DynamicTreeGrowth, SpeculativeDecoder } from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController, EagleDrafter } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, RowClockedHead, type ToyCosts } from './clocked-toy.js';

const PLAIN_MS = 10;
const PROMPT_TOKENS = 24;

/**
 * Perfect chains of 3 drafted nodes that pay by far once drafting runs (a step commits 4 tokens
 * for 21.75 ms: 13 to verify, 0.75 to draft and 8 for the head to read the last step's 4 rows at
 * 2 ms a row, against 40 ms of plain steps), behind a head that reads the prompt's 23 rows (46 ms)
 * before its first tree of a generation: a long generation pays that back in two steps, one of 6
 * tokens (60 ms of plain steps) never does.
 */
function shortAndLong() {
  const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
  const clock = new Clock();
  const costs: ToyCosts = { verify: (n) => PLAIN_MS + (n - 1), draftCall: 0.25 };
  const target = new ClockedTarget(new ToyTarget(model, { featureSize: 3 }), clock, costs);
  const head = new RowClockedHead(model, clock, 2);
  const growth = new DynamicTreeGrowth({ topK: 1, frontier: 1, depth: 3, totalTokens: 4 });
  const controller = new BudgetController(
    { drafter: new ClockedDrafter(new EagleDrafter(head, { growth }), target), growth },
    { clock: clock.read, start: { depth: 3, nodes: 3 }, valueTrees: false },
  );
  const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
  let generation = 0;
  return async (maxTokens: number) => {
    const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7 + generation++) % 30);
    let drafted = 0;
    const start = clock.now;
    const r = await decoder.generate(prompt, {
      maxTokens,
      onStep: ({ tree }) => {
        if (tree.size > 1) drafted++;
      },
    });
    expect(Array.from(r.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens })));
    return { ms: clock.now - start, tokens: r.tokens.length, drafted, stats: controller.controllerStats() };
  };
}

describe('budget controller, short generations', () => {
  it('decodes plainly where the tokens left cannot pay for the first tree, and drafts where they can', async () => {
    const generate = shortAndLong();
    for (let i = 0; i < 2; i++) expect((await generate(120)).drafted).toBeGreaterThan(20);
    const shorts = [];
    for (let i = 0; i < 12; i++) shorts.push(await generate(6));
    const long = await generate(120);

    // It measured what a generation's first tree costs beside its price: 60 ms against 22.
    expect(long.stats.costs.starting).toBeGreaterThan(2);
    // Drafting every short generation's first tree costs 60 + 19.5 ms for 6 tokens (0.75x, as
    // before the controller weighed it against the tokens left); it takes plain steps instead, but
    // for a probe now and then (its catch-up bounded to 16 rows: 65.5 ms). A probe whose drafted
    // steps the generation's end cuts short of paying for it counts as lost, so probes do not
    // come every 16 plain steps (3 of the 12 generations before that rule, 1 after).
    const ms = shorts.reduce((a, s) => a + s.ms, 0);
    const tokens = shorts.reduce((a, s) => a + s.tokens, 0);
    expect(shorts.filter((s) => s.drafted === 0).length).toBeGreaterThanOrEqual(10);
    expect((tokens * PLAIN_MS) / ms).toBeGreaterThan(0.98);
    // A long generation still drafts from its first step on.
    expect(long.drafted).toBeGreaterThan(20);
    expect((long.tokens * PLAIN_MS) / long.ms).toBeGreaterThan(1.6);
  });
});
