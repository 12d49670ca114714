import { type DraftContext, DraftTree, OptionError } from '@treespec/core';
import { ToyLanguageModel } from '@treespec/core/testing';
import { createVerifier } from '@treespec/sampling';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LookupDrafter } from '../src/index.js';
import { expectGreedyIdentity, generate, repeatingPrompt } from './helpers.js';

function contextOf(tokens: readonly number[]): DraftContext {
  return {
    tokens: Int32Array.from(tokens),
    length: tokens.length,
    promptLength: tokens.length,
    features: null,
    featureStart: 0,
    featureRows: 0,
    featureSize: 0,
    room: 1 << 30,
    maxDepth: 1 << 30,
  };
}

/** The tree as [token, parent, score] rows after the root. */
function rows(tree: DraftTree): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let i = 1; i < tree.size; i++) out.push([tree.tokens[i], tree.parents[i], tree.scores[i]]);
  return out;
}

function propose(drafter: LookupDrafter, tokens: readonly number[]): DraftTree {
  const tree = new DraftTree(drafter.maxTreeSize);
  tree.reset(tokens[tokens.length - 1]);
  drafter.propose(contextOf(tokens), tree);
  return tree;
}

describe('lookup drafter', () => {
  it('proposes what followed the longest earlier match of the context suffix', () => {
    const drafter = new LookupDrafter({ maxNgram: 3, maxDepth: 3, maxCandidates: 1 });
    // Suffix "7 8 9" occurred before, followed by 4 5 6; "8 9" alone also occurred, followed by 1.
    const tree = propose(drafter, [8, 9, 1, 2, 7, 8, 9, 4, 5, 6, 3, 7, 8, 9]);
    expect(drafter.matchLength).toBe(3);
    expect(rows(tree)).toEqual([
      [4, 0, 0],
      [5, 1, 0],
      [6, 2, 0],
    ]);
  });

  it('merges several occurrences into a tree, heaviest sibling first, scored by log match-weight fractions', () => {
    const drafter = new LookupDrafter({ minNgram: 1, maxNgram: 2, maxDepth: 2, maxCandidates: 4 });
    // "5 6" occurred twice (followed by 1 2, then 1 3); "6" alone once more (followed by 9 9).
    const tree = propose(drafter, [5, 6, 1, 2, 6, 9, 9, 5, 6, 1, 3, 5, 6]);
    expect(drafter.matchLength).toBe(2);
    const w = 2 + 2 + 1;
    expect(rows(tree).map(([t, p]) => [t, p])).toEqual([
      [1, 0],
      [9, 0],
      [3, 1],
      [2, 1],
      [9, 2],
    ]);
    expect(tree.scores[1]).toBeCloseTo(Math.log(4 / w), 12);
    expect(tree.scores[2]).toBeCloseTo(Math.log(1 / w), 12);
    expect(tree.scores[3]).toBeCloseTo(Math.log(4 / w) + Math.log(2 / 4), 12);
  });

  it('continues a short-period repetition for the whole depth, past the end of the context', () => {
    const drafter = new LookupDrafter({ maxDepth: 7, maxCandidates: 1 });
    const tree = propose(drafter, [3, 1, 2, 1, 2, 1, 2]);
    expect(rows(tree).map(([t]) => t)).toEqual([1, 2, 1, 2, 1, 2, 1]);
  });

  it('proposes nothing (a root-only tree) when no suffix occurred before', () => {
    const drafter = new LookupDrafter({ minNgram: 2 });
    expect(propose(drafter, [1, 2, 3, 4, 5, 2]).size).toBe(1);
    expect(drafter.matchLength).toBe(0);
    expect(propose(drafter, [7]).size).toBe(1);
  });

  it('never exceeds maxTokens or maxDepth, and indexes incrementally exactly as from scratch', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 120 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        (tokens, maxTokens, maxDepth) => {
          const options = { minNgram: 1, maxNgram: 3, maxTokens, maxDepth, maxCandidates: 3 };
          const incremental = new LookupDrafter(options);
          for (let n = 1; n <= tokens.length; n += 3) {
            const prefix = tokens.slice(0, n);
            const tree = propose(incremental, prefix);
            expect(tree.size).toBeLessThanOrEqual(maxTokens + 1);
            expect(tree.maxDepth()).toBeLessThanOrEqual(maxDepth);
            const fresh = propose(new LookupDrafter(options), prefix);
            expect(rows(tree)).toEqual(rows(fresh));
            for (let i = 2; i < tree.size; i++) {
              if (tree.parents[i] === tree.parents[i - 1])
                expect(tree.scores[i]).toBeLessThanOrEqual(tree.scores[i - 1]);
            }
          }
        },
      ),
      { seed: 424242, numRuns: 150 },
    );
  });

  it('keeps greedy output identical to plain decoding, for many models and prompts', async () => {
    for (let seed = 1; seed <= 16; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 12 + seed, order: 1 + (seed % 3), seed, sharpness: 2 });
      const drafter = new LookupDrafter({ maxDepth: 1 + (seed % 8), maxTokens: 3 + seed });
      for (const prompt of [[1], [1, seed % 7, 3], repeatingPrompt(model, [1, 2, 3, seed % 5], 20)]) {
        await expectGreedyIdentity(model, drafter, prompt, 60);
      }
    }
  });

  it('reaches tau > 1.5 (in fact > 4) when the context repeats a passage', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
      const prompt = repeatingPrompt(model, [1, seed, 2 * seed], 60);
      const result = await expectGreedyIdentity(model, new LookupDrafter(), prompt, 60);
      expect(result.stats.tau).toBeGreaterThan(4);
    }
  });

  it('drafts for stochastic verification reproducibly with a seed', async () => {
    const model = new ToyLanguageModel({ vocabSize: 16, order: 2, seed: 3, sharpness: 3 });
    const prompt = repeatingPrompt(model, [1, 5], 30);
    const run = (seed: number) =>
      generate(model, new LookupDrafter(), prompt, 60, {
        verifier: createVerifier({ temperature: 0.7, seed }),
      });
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    expect(Array.from(c.tokens)).not.toEqual(Array.from(a.tokens));
    expect(a.stats.tau).toBeGreaterThan(1);
  });

  it('rejects bad options with an OptionError naming the option', () => {
    expect(() => new LookupDrafter({ minNgram: 0 })).toThrow(OptionError);
    expect(() => new LookupDrafter({ minNgram: 3, maxNgram: 2 })).toThrow(/maxNgram/);
    expect(() => new LookupDrafter({ maxTokens: 1.5 })).toThrow(/maxTokens/);
  });
});
