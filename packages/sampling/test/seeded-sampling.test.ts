import {
  DynamicTreeGrowth,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
} from '@treespec/core';
import { ToyDrafter, type ToyDraftQuality, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { StochasticVerifier } from '../src/index.js';

const qualities: ToyDraftQuality[] = [
  { kind: 'perfect' },
  { kind: 'mixed', noise: 0.5 },
  { kind: 'adversarial' },
];

const shapes: Array<[string, () => TreeGrowth]> = [
  ['dynamic 4x4/17', () => new DynamicTreeGrowth({ topK: 4, depth: 3, totalTokens: 17 })],
  ['dynamic 2x6/8', () => new DynamicTreeGrowth({ topK: 2, depth: 5, totalTokens: 8 })],
  ['static', () => new StaticTreeGrowth(new StaticTreeShape([[0, 0, 0], [1, 0], [0, 1], [2]]))],
];

describe('seeded stochastic verification of top-k trees', () => {
  it('samples, token for token, what plain decoding samples with the same seed, whatever the drafter and tree', async () => {
    let compared = 0;
    for (let modelSeed = 1; modelSeed <= 4; modelSeed++) {
      const model = new ToyLanguageModel({ vocabSize: 24, order: 3, seed: modelSeed, sharpness: 1.5 });
      for (const seed of [0, 7, 123456]) {
        const sampling = { temperature: 1.1, topP: 0.95, seed };
        const plainTarget = new ToyTarget(model, { featureSize: 3 });
        const plain = new SpeculativeDecoder({
          target: plainTarget,
          verifier: new StochasticVerifier(sampling),
        });
        const expected = Array.from((await plain.generate([1, 5, 9], { maxTokens: 40 })).tokens);
        for (const quality of qualities) {
          for (const [, makeGrowth] of shapes) {
            const target = new ToyTarget(model, { featureSize: 3 });
            const drafter = new ToyDrafter({ target, growth: makeGrowth(), quality });
            const decoder = new SpeculativeDecoder({
              target,
              drafter,
              verifier: new StochasticVerifier(sampling),
            });
            const { tokens } = await decoder.generate([1, 5, 9], { maxTokens: 40 });
            expect(Array.from(tokens)).toEqual(expected);
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(4 * 3 * qualities.length * shapes.length);
  });
});
