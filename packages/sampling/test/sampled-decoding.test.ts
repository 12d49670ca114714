import { DynamicTreeGrowth, NumericError, SpeculativeDecoder } from '@treespec/core';
import { ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { createVerifier, GREEDY_BELOW, GreedyVerifier, StochasticVerifier } from '../src/index.js';

const model = new ToyLanguageModel({ vocabSize: 40, order: 3, seed: 5, sharpness: 2 });

function decoder(verifier = createVerifier({ temperature: 0.9, topP: 0.95, seed: 11 }), withDrafter = true) {
  const target = new ToyTarget(model);
  const drafter = withDrafter
    ? new ToyDrafter({
        target,
        growth: new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 11 }),
        quality: { kind: 'mixed', noise: 0.3 },
      })
    : null;
  return { target, decoder: new SpeculativeDecoder({ target, drafter, verifier }) };
}

describe('sampled decoding', () => {
  it('is reproducible run to run with the same seed, and differs with another', async () => {
    const { decoder: d } = decoder();
    const a = await d.generate([1, 2, 3], { maxTokens: 60 });
    const b = await d.generate([1, 2, 3], { maxTokens: 60 });
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    const { decoder: other } = decoder(createVerifier({ temperature: 0.9, topP: 0.95, seed: 12 }));
    expect(Array.from((await other.generate([1, 2, 3], { maxTokens: 60 })).tokens)).not.toEqual(
      Array.from(a.tokens),
    );
  });

  it('at temperature 0 is the greedy path', async () => {
    const verifier = createVerifier({ temperature: 0, topP: 0.5, seed: 3 });
    expect(verifier).toBeInstanceOf(GreedyVerifier);
    const spec = await decoder(verifier).decoder.generate([1, 7], { maxTokens: 50 });
    const plain = await decoder(new GreedyVerifier(), false).decoder.generate([1, 7], { maxTokens: 50 });
    expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
  });

  it('decodes greedily below GREEDY_BELOW, where dividing the logits would overflow', async () => {
    const plain = await decoder(new GreedyVerifier(), false).decoder.generate([1, 7], { maxTokens: 40 });
    for (const temperature of [5e-39, 1e-30, GREEDY_BELOW / 2]) {
      const verifier = createVerifier({ temperature, seed: 3 });
      expect(verifier).toBeInstanceOf(GreedyVerifier);
      const spec = await decoder(verifier).decoder.generate([1, 7], { maxTokens: 40 });
      expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
    }
    expect(createVerifier({ temperature: GREEDY_BELOW, seed: 3 })).toBeInstanceOf(StochasticVerifier);
  });

  it('applies greedy penalties to exactly the context plain decoding sees', async () => {
    for (const penalties of [{ repetitionPenalty: 1.5 }, { presencePenalty: 0.8, frequencyPenalty: 0.4 }]) {
      const spec = await decoder(new GreedyVerifier(penalties)).decoder.generate([1, 7, 7], {
        maxTokens: 80,
      });
      const plain = await decoder(new GreedyVerifier(penalties), false).decoder.generate([1, 7, 7], {
        maxTokens: 80,
      });
      const unpenalised = await decoder(new GreedyVerifier(), false).decoder.generate([1, 7, 7], {
        maxTokens: 80,
      });
      expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
      expect(Array.from(spec.tokens)).not.toEqual(Array.from(unpenalised.tokens));
    }
  });

  it('never turns NaN logits into a token, and stays usable', async () => {
    const { decoder: d, target } = decoder();
    target.nanOnVerifyCall = target.verifyCalls + 1;
    await expect(d.generate([1, 2], { maxTokens: 20 })).rejects.toThrow(NumericError);
    expect((await d.generate([1, 2], { maxTokens: 20 })).tokens.length).toBe(20);
  });

  it('refuses temperature 0 in the stochastic verifier and points to the greedy one', () => {
    expect(() => new StochasticVerifier({ temperature: 0 })).toThrow(/GreedyVerifier/);
  });
});
