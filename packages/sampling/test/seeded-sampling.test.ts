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

/** Verifications of a toy target that asked it for draws (`sample`) and that did not. */
function spyOnDraws(target: ToyTarget): boolean[] {
  const asked: boolean[] = [];
  const verify = target.verify.bind(target);
  target.verify = (tree, options) => {
    asked.push(options?.sample !== undefined);
    return verify(tree, options);
  };
  return asked;
}

describe.each([
  ['from the logits, with top-p', { temperature: 1.1, topP: 0.95 }, false],
  ['with tokens the target draws itself', { temperature: 0.8 }, true],
] as const)('seeded stochastic verification of top-k trees, %s', (_, shaping, sampledTokens) => {
  it('samples, token for token, what plain decoding samples with the same seed, whatever the drafter and tree', async () => {
    let compared = 0;
    for (let modelSeed = 1; modelSeed <= 4; modelSeed++) {
      const model = new ToyLanguageModel({ vocabSize: 24, order: 3, seed: modelSeed, sharpness: 1.5 });
      for (const seed of [0, 7, 123456]) {
        const sampling = { ...shaping, seed };
        const plain = new SpeculativeDecoder({
          target: new ToyTarget(model, { sampledTokens }),
          verifier: new StochasticVerifier(sampling),
        });
        const expected = Array.from((await plain.generate([1, 5, 9], { maxTokens: 40 })).tokens);
        for (const quality of qualities) {
          for (const [, makeGrowth] of shapes) {
            const target = new ToyTarget(model, { featureSize: 3, sampledTokens });
            const asked = spyOnDraws(target);
            const drafter = new ToyDrafter({ target, growth: makeGrowth(), quality });
            const decoder = new SpeculativeDecoder({
              target,
              drafter,
              verifier: new StochasticVerifier(sampling),
            });
            const { tokens } = await decoder.generate([1, 5, 9], { maxTokens: 40 });
            expect(Array.from(tokens)).toEqual(expected);
            // Draws are asked for exactly where the target makes them and nothing but the temperature shapes the rows.
            expect(new Set(asked)).toEqual(new Set([sampledTokens]));
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(4 * 3 * qualities.length * shapes.length);
  });
});

describe('a target that draws tokens itself', () => {
  it('is asked for draws only where nothing but the temperature shapes the rows', async () => {
    const model = new ToyLanguageModel({ vocabSize: 24, seed: 5 });
    for (const [sampling, draws] of [
      [{ temperature: 1, seed: 3 }, true],
      [{ temperature: 1, topP: 0.9, seed: 3 }, false],
      [{ temperature: 1, minP: 0.05, seed: 3 }, false],
      [{ temperature: 1, presencePenalty: 0.5, seed: 3 }, false],
    ] as const) {
      const target = new ToyTarget(model, { sampledTokens: true });
      const asked = spyOnDraws(target);
      await new SpeculativeDecoder({ target, verifier: new StochasticVerifier(sampling) }).generate([1, 2], {
        maxTokens: 8,
      });
      expect([...new Set(asked)]).toEqual([draws]);
    }
  });
});
