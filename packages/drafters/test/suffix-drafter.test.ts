import { type DraftContext, DraftTree, OptionError } from '@treespec/core';
import { referenceGreedy, ToyLanguageModel } from '@treespec/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LookupDrafter, SuffixDrafter, type SuffixDrafterOptions } from '../src/index.js';
import { expectGreedyIdentity, repeatingPrompt } from './helpers.js';

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

function propose(drafter: SuffixDrafter, tokens: readonly number[]): DraftTree {
  const tree = new DraftTree(drafter.maxTreeSize);
  tree.reset(tokens[tokens.length - 1]);
  drafter.propose(contextOf(tokens), tree);
  return tree;
}

/** Root-to-node token paths of every node, in tree order. */
function paths(tree: DraftTree): number[][] {
  const out: number[][] = [];
  for (let i = 1; i < tree.size; i++) {
    const path: number[] = [];
    for (let n = i; n > 0; n = tree.parents[n]) path.unshift(tree.tokens[n]);
    out.push(path);
  }
  return out;
}

describe('suffix drafter', () => {
  it('finds matches of any length and proposes what followed, first occurrence and a recent one', () => {
    const drafter = new SuffixDrafter({ maxDepth: 2, maxCandidates: 2 });
    // The suffix 1 2 3 4 5 6 occurred twice before: followed by 7 8, then by 9 9.
    const tokens = [1, 2, 3, 4, 5, 6, 7, 8, 20, 1, 2, 3, 4, 5, 6, 9, 9, 30, 1, 2, 3, 4, 5, 6];
    const tree = propose(drafter, tokens);
    expect(drafter.matchLength).toBe(6);
    expect(paths(tree)).toEqual([[7], [9], [7, 8], [9, 9]]);
    const picky = new SuffixDrafter({ minMatch: 7 });
    expect(propose(picky, tokens).size).toBe(1);
    expect(picky.matchLength).toBe(0);
  });

  it('drafts from a corpus when the context has no match, and prefers the longer match', () => {
    const corpus = [
      [10, 11, 12, 13, 14, 15],
      [20, 21, 22, 23],
    ];
    const drafter = new SuffixDrafter({ maxDepth: 4, maxCandidates: 1, corpus });
    expect(paths(propose(drafter, [5, 21, 22]))).toEqual([[23]]);
    drafter.reset();
    // The context matches "12" (length 1) itself; the corpus matches "11 12" (length 2).
    const tree = propose(drafter, [12, 7, 11, 12]);
    expect(drafter.matchLength).toBe(2);
    expect(paths(tree)).toEqual([[13], [13, 14], [13, 14, 15]]);
  });

  it('refuses a corpus that is not an array of documents', () => {
    for (const corpus of [Int32Array.from([1, 2, 3]), [1, 2, 3], 'text']) {
      expect(() => new SuffixDrafter({ corpus } as never)).toThrow(
        /option "corpus" must be an array of documents/,
      );
    }
  });

  it('never reads a continuation across a corpus document boundary', () => {
    const drafter = new SuffixDrafter({
      maxDepth: 4,
      corpus: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(propose(drafter, [9, 2]).size).toBe(1);
    expect(() => new SuffixDrafter({ corpus: [[1, -2]] })).toThrow(/corpus\[0\]\[1\]/);
  });

  it('agrees with lookup on the longest match when that fits in lookup n-grams, step after step', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 80 }), (tokens) => {
        const suffix = new SuffixDrafter({ maxCandidates: 1 });
        const lookup = new LookupDrafter({ maxNgram: 64, maxCandidates: 1 });
        for (let n = 2; n <= tokens.length; n++) {
          const prefix = tokens.slice(0, n);
          propose(suffix, prefix);
          const tree = new DraftTree(lookup.maxTreeSize);
          lookup.propose(contextOf(prefix), tree);
          expect(suffix.matchLength).toBe(lookup.matchLength);
        }
      }),
      { seed: 5150, numRuns: 100 },
    );
  });

  it('keeps greedy output identical to plain decoding, with and without a corpus', async () => {
    for (let seed = 1; seed <= 16; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 12 + seed, order: 1 + (seed % 3), seed, sharpness: 2 });
      const corpus = [Array.from(referenceGreedy(model, [seed % 4, 2], { maxTokens: 50 }))];
      const options: SuffixDrafterOptions[] = [
        { maxDepth: 1 + (seed % 8) },
        { corpus, maxCandidates: 2 + (seed % 3) },
      ];
      for (const o of options) {
        const drafter = new SuffixDrafter(o);
        for (const prompt of [[1], [1, seed % 7, 3], repeatingPrompt(model, [1, 2, 3, seed % 5], 20)]) {
          await expectGreedyIdentity(model, drafter, prompt, 60);
        }
      }
    }
  });

  it('reaches tau > 1.5 (in fact > 4) when the context repeats a passage, or the corpus holds it', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
      const prompt = repeatingPrompt(model, [1, seed, 2 * seed], 60);
      const fromContext = await expectGreedyIdentity(model, new SuffixDrafter(), prompt, 60);
      expect(fromContext.stats.tau).toBeGreaterThan(4);
      const passage = [1, seed, 2 * seed, ...referenceGreedy(model, [1, seed, 2 * seed], { maxTokens: 80 })];
      const drafter = new SuffixDrafter({ corpus: [passage] });
      const fromCorpus = await expectGreedyIdentity(model, drafter, [1, seed, 2 * seed], 60);
      expect(fromCorpus.stats.tau).toBeGreaterThan(4);
    }
  });

  it('rejects bad options with an OptionError naming the option', () => {
    expect(() => new SuffixDrafter({ maxDepth: 0 })).toThrow(OptionError);
    expect(() => new SuffixDrafter({ minMatch: 0 })).toThrow(/minMatch/);
  });
});
