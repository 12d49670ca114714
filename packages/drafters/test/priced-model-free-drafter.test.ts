import { OptionError, SpeculativeDecoder } from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { createVerifier, GreedyVerifier } from '@treespec/sampling';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LookupDrafter, PricedModelFreeDrafter, SuffixDrafter } from '../src/index.js';
import { repeatingPrompt } from './helpers.js';

describe('a model-free drafter priced on its own', () => {
  let clock = 0;
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A target whose verification costs 1 ms plus `perNode` ms per draft node. */
  function pricedTarget(model: ToyLanguageModel, perNode: number): ToyTarget {
    return new (class extends ToyTarget {
      override verify(...args: Parameters<ToyTarget['verify']>) {
        clock += 1 + perNode * (args[0].size - 1);
        return super.verify(...args);
      }
    })(model);
  }

  /** One generation of `prompt`: its tokens, ms per token, and the sizes of the trees verified. */
  async function run(
    model: ToyLanguageModel,
    drafter: PricedModelFreeDrafter | LookupDrafter,
    prompt: readonly number[],
    options: { perNode: number; temperature?: number },
  ) {
    const decoder = new SpeculativeDecoder({
      target: pricedTarget(model, options.perNode),
      drafter,
      verifier:
        options.temperature === undefined
          ? new GreedyVerifier()
          : createVerifier({ temperature: options.temperature, seed: 3 }),
    });
    const sizes: number[] = [];
    const started = clock;
    const result = await decoder.generate(prompt, { maxTokens: 300, onStep: (e) => sizes.push(e.tree.size) });
    return { tokens: Array.from(result.tokens), msPerToken: (clock - started) / result.tokens.length, sizes };
  }

  it('drafts what a repeated passage continues where rows are cheap, as plain greedy decoding would', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 5, sharpness: 2.5 });
    const prompt = repeatingPrompt(model, [6, 1], 200);
    const reference = Array.from(referenceGreedy(model, prompt, { maxTokens: 300 }));
    for (const make of [() => new LookupDrafter(), () => new SuffixDrafter()]) {
      const priced = await run(model, new PricedModelFreeDrafter(make()), prompt, { perNode: 0.02 });
      expect(priced.tokens).toEqual(reference);
      // The continuation is accepted whole: deep trees pay and are kept.
      expect(priced.msPerToken).toBeLessThan(0.3);
      expect(Math.max(...priced.sizes)).toBeGreaterThan(8);
    }
  });

  it('decodes plainly where sampling rejects what it drafts, where its whole trees run slower than plainly', async () => {
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    // A flat model sampled at 1.5: the prompt repeats, so lookup matches, but the target
    // continues otherwise, and each verified node costs half a plain step.
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 5, sharpness: 0.5 });
    const prompt = repeatingPrompt(model, [6, 1], 200);
    const options = { perNode: 0.5, temperature: 1.5 };
    const priced = new PricedModelFreeDrafter(new LookupDrafter());
    const cut = await run(model, priced, prompt, options);
    const whole = await run(model, new LookupDrafter(), prompt, options);
    // Measured: 7.74 ms a token with whole trees; 1.03 priced, whose first tree (17 nodes, 9 ms)
    // is taken whole before anything is timed, and every later step verifies the root alone.
    expect(whole.msPerToken).toBeGreaterThan(2);
    expect(cut.msPerToken).toBeLessThan(1.05);
    expect(cut.sizes.filter((n) => n === 1).length).toBeGreaterThan(0.95 * cut.sizes.length);
    expect(priced.stepMs(1)).toBeCloseTo(1, 9);
  });

  it('keeps its drafter’s name and tree size, and rejects a smoothing outside (0, 1]', () => {
    const priced = new PricedModelFreeDrafter(new SuffixDrafter({ maxTokens: 6 }));
    expect(priced.name).toBe('suffix');
    expect(priced.maxTreeSize).toBe(7);
    expect(priced.needsFeatures).toBe(false);
    expect(() => new PricedModelFreeDrafter(new LookupDrafter(), { smoothing: 0 })).toThrow(OptionError);
  });
});
