import { DynamicTreeGrowth, SpeculativeDecoder, StaticTreeGrowth, StaticTreeShape } from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { createVerifier, GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { EagleDrafter } from '../src/index.js';
import { sampleTwoTokens } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

function setup(growth: DynamicTreeGrowth | StaticTreeGrowth, seed = 3) {
  const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
  const target = new ToyTarget(model, { featureSize: 4 });
  const head = new ToyDraftHead(model);
  const drafter = new EagleDrafter(head, { growth });
  return {
    model,
    head,
    decoder: new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() }),
  };
}

describe('EAGLE drafter', () => {
  it('drives the head with the right rows, positions, masks and fed-back features, drafting perfectly', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const { model, head, decoder } = setup(
        new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 31 }),
        seed,
      );
      const prompt = [1, 5, 9, 11];
      // Each step expands depths 1 to 3 (a head call each), fewer where the tokens left, less the
      // bonus, leave no room for them; the last token is decoded without a draft.
      const calls: number[] = [];
      const expectedCalls: number[] = [];
      let generated = 0;
      let before = 0;
      const result = await decoder.generate(prompt, {
        maxTokens: 60,
        onStep: (e) => {
          expectedCalls.push(Math.min(3, Math.max(0, 60 - generated - 2)));
          calls.push(head.draftCalls - before);
          before = head.draftCalls;
          generated += e.pathLength;
        },
      });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 60 })),
      );
      // A perfect head accepts the whole depth-4 path every step (4 drafted + 1 bonus).
      // With a perfect head the argmax child is accepted wherever it was generated: always at
      // depths 1 and 2 (every depth-1 node is expanded); deeper, only if its parent made the frontier.
      expect(result.stats.acceptanceByDepth.slice(0, 2)).toEqual([1, 1]);
      expect(result.stats.tau).toBeGreaterThan(3.5);
      expect(calls).toEqual(expectedCalls);
      expect(calls.filter((c) => c === 3).length).toBeGreaterThan(10);
    }
  });

  it('accepts every drafted token of an argmax chain from a perfect head', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const { model, decoder } = setup(new StaticTreeGrowth(StaticTreeShape.chain(4)), seed);
      const result = await decoder.generate([2, 3, 4], { maxTokens: 60 });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, [2, 3, 4], { maxTokens: 60 })),
      );
      expect(result.stats.acceptanceByDepth).toEqual([1, 1, 1, 1]);
      expect(result.stats.tau).toBe(5);
    }
  });

  it('works as EAGLE-1 with a static tree, and from a one-token prompt', async () => {
    const shape = new StaticTreeShape([[0, 0, 0], [1, 0], [0, 1], [2]]);
    const { model, decoder } = setup(new StaticTreeGrowth(shape));
    for (const prompt of [[1], [1, 7, 3]]) {
      const result = await decoder.generate(prompt, { maxTokens: 40 });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 40 })),
      );
    }
  });

  it('rejects a head whose commit returns more than its newest row, naming the count', async () => {
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 3, sharpness: 2.5 });
    class EveryRowHead extends ToyDraftHead {
      override async commit(tokens: Int32Array, features: Float32Array, rows: number, k: number) {
        const step = await super.commit(tokens, features, rows, k);
        return { ...step, rows };
      }
    }
    const decoder = new SpeculativeDecoder({
      target: new ToyTarget(model, { featureSize: 4 }),
      drafter: new EagleDrafter(new EveryRowHead(model)),
      verifier: new GreedyVerifier(),
    });
    await expect(decoder.generate([1, 5, 9, 11], { maxTokens: 8 })).rejects.toThrow(
      "a draft model's commit must return its newest row alone; it returned 3 rows",
    );
  });

  it('draws sampled trees from the head, feeding each row its parent’s feature, lossless under stochastic verification (chi-square, alpha 1e-3)', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const headModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const target = new ToyTarget(model, { featureSize: 4 });
    const head = new ToyDraftHead(headModel);
    const shape = new StaticTreeShape([[0, 0, 0], [0, 1], [1, 0], [2]]);
    const drafter = new EagleDrafter(head, {
      growth: new StaticTreeGrowth(shape),
      sample: { temperature: 1, seed: 4 },
    });
    expect(drafter.samples).toBe(true);
    const { pValue, tokensPerStep, draftedKinds } = await sampleTwoTokens(model, target, drafter, 12000);
    expect([...draftedKinds]).toEqual(['sampled-distinct']);
    expect(pValue).toBeGreaterThan(1e-3);
    expect(tokensPerStep).toBeGreaterThan(1.2);
  }, 60_000);

  it('draws sampled trees at each generation’s temperature: a head that is the target has every draw accepted', async () => {
    const model = new ToyLanguageModel({ vocabSize: 12, order: 2, seed: 8, sharpness: 2 });
    const target = new ToyTarget(model, { featureSize: 4 });
    const tauAt = async (temperature: number, sample: { temperature?: number }) => {
      const drafter = new EagleDrafter(new ToyDraftHead(model), {
        growth: new StaticTreeGrowth(StaticTreeShape.chain(3)),
        sample: { seed: 2, ...sample },
      });
      let steps = 0;
      let tokens = 0;
      for (let seed = 0; seed < 40; seed++) {
        const decoder = new SpeculativeDecoder({
          target,
          drafter,
          verifier: createVerifier({ temperature, seed }),
        });
        const { stats } = await decoder.generate([1, 5, 9], { maxTokens: 12 });
        steps += stats.steps;
        tokens += stats.generatedTokens;
      }
      return tokens / steps;
    };
    // q = p at the target's temperature: min(1, p/q) = 1, so each step commits the 3-token chain
    // and the target's bonus token.
    for (const temperature of [0.3, 0.6, 1, 1.7]) expect(await tauAt(temperature, {})).toBe(4);
    // A fixed draft temperature other than the generation's draws from another distribution.
    expect(await tauAt(0.3, { temperature: 1 })).toBeLessThan(3.5);
  });

  it('samples the target distribution exactly at temperature 0.6 with draws at that temperature (chi-square, alpha 1e-3)', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const headModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const drafter = new EagleDrafter(new ToyDraftHead(headModel), {
      growth: new StaticTreeGrowth(new StaticTreeShape([[0, 0, 0], [0, 1], [1, 0], [2]])),
      sample: { seed: 4 },
    });
    const target = new ToyTarget(model, { featureSize: 4 });
    const { pValue, tokensPerStep } = await sampleTwoTokens(model, target, drafter, 12000, {
      temperature: 0.6,
    });
    expect(pValue).toBeGreaterThan(1e-3);
    expect(tokensPerStep).toBeGreaterThan(1.2);
  }, 60_000);

  it('refuses sampled trees on a growth that prunes, and a head step without logits', async () => {
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 3, sharpness: 2.5 });
    expect(() => new EagleDrafter(new ToyDraftHead(model), { sample: { temperature: 1 } })).toThrow(
      /keeps every node/,
    );
    class TopKOnlyHead extends ToyDraftHead {
      override async commit(tokens: Int32Array, features: Float32Array, rows: number, k: number) {
        const { logits: _, ...step } = await super.commit(tokens, features, rows, k);
        return step;
      }
    }
    const decoder = new SpeculativeDecoder({
      target: new ToyTarget(model, { featureSize: 4 }),
      drafter: new EagleDrafter(new TopKOnlyHead(model), {
        growth: new StaticTreeGrowth(StaticTreeShape.chain(3)),
        sample: { temperature: 1 },
      }),
      verifier: createVerifier({ temperature: 1, seed: 1 }),
    });
    await expect(decoder.generate([1, 5, 9], { maxTokens: 8 })).rejects.toThrow(
      'sampled drafting needs the draft model’s logits',
    );
  });

  it('names itself after the tree it grows', () => {
    expect(setup(new DynamicTreeGrowth()).decoder.drafter?.name).toBe('eagle2');
    expect(setup(new StaticTreeGrowth(StaticTreeShape.chain(3))).decoder.drafter?.name).toBe('eagle1');
  });
});
