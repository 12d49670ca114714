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

describe('seeded stochastic verification with tokens the target draws itself', () => {
  it('samples what plain decoding samples with the same seed, and asks for draws only where nothing but the temperature shapes the rows', async () => {
    let compared = 0;
    for (let modelSeed = 1; modelSeed <= 3; modelSeed++) {
      const model = new ToyLanguageModel({ vocabSize: 24, order: 3, seed: modelSeed, sharpness: 1.5 });
      for (const seed of [0, 7, 123456]) {
        const sampling = { temperature: 0.8, seed };
        const plainTarget = new ToyTarget(model, { sampledTokens: true });
        const plain = new SpeculativeDecoder({
          target: plainTarget,
          verifier: new StochasticVerifier(sampling),
        });
        const expected = Array.from((await plain.generate([1, 5, 9], { maxTokens: 40 })).tokens);
        for (const [, makeGrowth] of shapes) {
          for (const quality of qualities) {
            const target = new ToyTarget(model, { featureSize: 3, sampledTokens: true });
            const asked: boolean[] = [];
            const verify = target.verify.bind(target);
            target.verify = (tree, options) => {
              asked.push(options?.sample !== undefined);
              return verify(tree, options);
            };
            const drafter = new ToyDrafter({ target, growth: makeGrowth(), quality });
            const decoder = new SpeculativeDecoder({
              target,
              drafter,
              verifier: new StochasticVerifier(sampling),
            });
            const { tokens } = await decoder.generate([1, 5, 9], { maxTokens: 40 });
            expect(Array.from(tokens)).toEqual(expected);
            expect(asked.length).toBeGreaterThan(0);
            expect(asked.every(Boolean)).toBe(true);
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(3 * 3 * shapes.length * qualities.length);

    const model = new ToyLanguageModel({ vocabSize: 24, seed: 5 });
    for (const [sampling, draws] of [
      [{ temperature: 1, seed: 3 }, true],
      [{ temperature: 1, topP: 0.9, seed: 3 }, false],
      [{ temperature: 1, minP: 0.05, seed: 3 }, false],
      [{ temperature: 1, presencePenalty: 0.5, seed: 3 }, false],
    ] as const) {
      const target = new ToyTarget(model, { sampledTokens: true });
      const asked = new Set<boolean>();
      const verify = target.verify.bind(target);
      target.verify = (tree, options) => {
        asked.add(options?.sample !== undefined);
        return verify(tree, options);
      };
      await new SpeculativeDecoder({ target, verifier: new StochasticVerifier(sampling) }).generate([1, 2], {
        maxTokens: 8,
      });
      expect([...asked]).toEqual([draws]);
    }
  });
});
