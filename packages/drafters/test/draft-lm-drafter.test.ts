import {
  DraftTree,
  DynamicTreeGrowth,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
} from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { DraftLmDrafter } from '../src/index.js';
import { sampleTwoTokens } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

function setup(draftSeed: number | null, growth: DynamicTreeGrowth | StaticTreeGrowth, seed = 3) {
  const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
  // The draft LM is the target's own model (perfect) or an unrelated one (a weak drafter).
  const draftModel =
    draftSeed === null
      ? model
      : new ToyLanguageModel({ vocabSize: 40, order: 2, seed: draftSeed, sharpness: 2.5 });
  const lm = new ToyDraftHead(draftModel, { featureSize: 0 });
  const target = new ToyTarget(model);
  return { model, lm, target, drafter: new DraftLmDrafter(lm, { growth }) };
}

describe('draft-LM drafter', () => {
  it('keeps greedy output identical to plain decoding, drafting chains and trees', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      for (const growth of [
        new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 13 }),
        new StaticTreeGrowth(StaticTreeShape.chain(4)),
      ]) {
        for (const draftSeed of [null, 99]) {
          const { model, target, drafter } = setup(draftSeed, growth, seed);
          const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
          for (const prompt of [[1], [1, 7, 3, 9]]) {
            const r = await decoder.generate(prompt, { maxTokens: 50 });
            expect(Array.from(r.tokens)).toEqual(
              Array.from(referenceGreedy(model, prompt, { maxTokens: 50 })),
            );
            if (draftSeed === null && growth.prunes === false) expect(r.stats.tau).toBeGreaterThan(4.5);
          }
        }
      }
    }
  });

  it('commits exactly the tokens added since the last step, rows at their own positions', async () => {
    const { target, drafter, lm } = setup(null, new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 7 }));
    const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
    const r = await decoder.generate([1, 2, 3], { maxTokens: 30 });
    // The toy model checks every draft row's position and visibility; after the run it holds
    // the committed sequence up to the last root (prompt + tokens before the final step's commit).
    expect(lm.committedRows).toBeGreaterThanOrEqual(3);
    expect(lm.committedRows).toBeLessThanOrEqual(3 + r.tokens.length);
  });

  it('samples i.i.d. children from q and stays lossless under stochastic verification (chi-square, alpha 1e-3)', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const draftModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const target = new ToyTarget(model);
    const lm = new ToyDraftHead(draftModel, { featureSize: 0 });
    const shape = new StaticTreeShape([[0, 0], [0, 1], [1]]);
    const drafter = new DraftLmDrafter(lm, {
      growth: new StaticTreeGrowth(shape),
      sample: { temperature: 1, seed: 4 },
    });
    const { pValue, tokensPerStep } = await sampleTwoTokens(model, target, drafter, 12000);
    expect(pValue).toBeGreaterThan(1e-3);
    expect(tokensPerStep).toBeGreaterThan(1.2);
  }, 60_000);

  it('draws at temperature 1 from the probabilities its model computes, losslessly (chi-square, alpha 1e-3), and from logits at another temperature', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const draftModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const target = new ToyTarget(model);
    const lm = new ToyDraftHead(draftModel, { featureSize: 0, probabilities: true });
    const growth = () => new StaticTreeGrowth(new StaticTreeShape([[0, 0], [0, 1], [1]]));
    const drafter = new DraftLmDrafter(lm, { growth: growth(), sample: { seed: 4 } });
    const { pValue, tokensPerStep } = await sampleTwoTokens(model, target, drafter, 12000);
    expect(pValue).toBeGreaterThan(1e-3);
    expect(tokensPerStep).toBeGreaterThan(1.2);
    expect(new Set(lm.requests.map((r) => r.join()))).toEqual(new Set(['true,true']));
    lm.requests.length = 0;
    const tempered = new DraftLmDrafter(lm, { growth: growth(), sample: { seed: 4 } });
    const cool = await sampleTwoTokens(model, target, tempered, 4000, { temperature: 0.7 });
    expect(cool.pValue).toBeGreaterThan(1e-3);
    expect(new Set(lm.requests.map((r) => r.join()))).toEqual(new Set(['true,false']));
  }, 60_000);

  it('asks its model for logits only when it samples its trees, so top-k drafting copies none', async () => {
    const model = new ToyLanguageModel({ vocabSize: 12, order: 2, seed: 5, sharpness: 1.5 });
    const lm = new ToyDraftHead(model, { featureSize: 0 });
    const requests: boolean[] = [];
    lm.requestLogits = (wanted) => requests.push(wanted);
    const growth = () => new StaticTreeGrowth(new StaticTreeShape([[0, 0], [1]]));
    const sampled = new DraftLmDrafter(lm, { growth: growth(), sample: { temperature: 1, seed: 2 } });
    const topK = new DraftLmDrafter(lm, { growth: growth() });
    const tokens = Int32Array.of(1, 4, 7);
    const context = {
      tokens,
      length: 3,
      promptLength: 3,
      features: null,
      featureStart: 0,
      featureRows: 0,
      featureSize: 0,
      room: 16,
      maxDepth: 16,
    };
    for (const drafter of [sampled, topK, sampled]) {
      drafter.reset(1);
      await drafter.propose(context, new DraftTree(8));
    }
    expect(requests).toEqual([true, false, true]);
  });

  it('refuses sampled trees on a growth that prunes', () => {
    const { lm } = setup(null, new StaticTreeGrowth(StaticTreeShape.chain(2)));
    expect(
      () =>
        new DraftLmDrafter(lm, { tree: { topK: 2, depth: 1, totalTokens: 4 }, sample: { temperature: 1 } }),
    ).toThrow(/keeps every node/);
  });
});
