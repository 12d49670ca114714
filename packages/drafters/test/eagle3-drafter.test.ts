import {
  type DraftModelStep,
  DynamicTreeGrowth,
  logSumExp,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  topK,
} from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { Eagle3Drafter, type Eagle3DraftModel, EagleDrafter } from '../src/index.js';
import { sampleTwoTokens } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

/** Target feature rows: a 4-wide feature followed by 12 columns of captured states. */
const FEATURE = 4;
const CAPTURED = 12;

/** A toy EAGLE-3 head: checks that every committed row arrives with exactly its captured states. */
class ToyEagle3Head extends ToyDraftHead implements Eagle3DraftModel {
  readonly capturedFeatureSize = CAPTURED;
  committedFeatureRows: Float32Array[] = [];

  override async commit(
    tokens: Int32Array,
    features: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    for (let r = 0; r < rows; r++)
      this.committedFeatureRows.push(features.slice(r * CAPTURED, (r + 1) * CAPTURED));
    return super.commit(tokens, features, rows, k);
  }
}

/**
 * A toy EAGLE-3 head over a reduced draft vocabulary, as a `d2t` head: its logits and top-k cover
 * the draft tokens `draftTokenIds` only (top-k ids mapped to target ids).
 */
class ReducedToyEagle3Head extends ToyEagle3Head {
  readonly draftTokenIds: Int32Array;
  /** The widths of the logits rows it returned: the draft vocabulary's, every call. */
  readonly logitWidths = new Set<number>();

  constructor(model: ToyLanguageModel, draftTokenIds: Int32Array) {
    super(model);
    this.draftTokenIds = draftTokenIds;
  }

  override async commit(tokens: Int32Array, features: Float32Array, rows: number, k: number) {
    return this.reduce(await super.commit(tokens, features, rows, k));
  }

  override async draft(
    tokens: Int32Array,
    features: Float32Array,
    positions: Int32Array,
    bias: Float32Array,
    rows: number,
    k: number,
  ) {
    return this.reduce(await super.draft(tokens, features, positions, bias, rows, k));
  }

  private reduce(step: DraftModelStep): DraftModelStep {
    const ids = this.draftTokenIds;
    const width = ids.length;
    const logits = new Float32Array(step.rows * width);
    const topTokens = new Int32Array(step.rows * step.k);
    const topLogProbs = new Float32Array(step.rows * step.k);
    const index = new Int32Array(width);
    const values = new Float32Array(width);
    for (let r = 0; r < step.rows; r++) {
      for (let d = 0; d < width; d++) logits[r * width + d] = step.logits![r * this.vocabSize + ids[d]!]!;
      const lse = logSumExp(logits, r * width, width);
      const n = topK(logits, r * width, width, step.k, index, values);
      for (let i = 0; i < n; i++) {
        topTokens[r * step.k + i] = ids[index[i]!]!;
        topLogProbs[r * step.k + i] = values[i]! - lse;
      }
    }
    this.logitWidths.add(logits.length / step.rows);
    return { ...step, logits, topTokens, topLogProbs };
  }
}

/** A toy target that remembers the feature rows it returned, in order. */
class RecordingTarget extends ToyTarget {
  rows: Float32Array[] = [];

  override async prefill(tokens: Int32Array, options?: { features?: boolean }) {
    const step = await super.prefill(tokens, options);
    if (step.features)
      for (let r = 0; r < step.rows; r++) this.rows.push(step.features.slice(r * 16, (r + 1) * 16));
    return step;
  }
}

describe('Eagle3Drafter', () => {
  it('drafts the toy model perfectly and keeps greedy output identical, fed the trailing captured columns', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
      const target = new RecordingTarget(model, { featureSize: FEATURE + CAPTURED });
      const head = new ToyEagle3Head(model);
      const drafter = new Eagle3Drafter(head, {
        growth: new DynamicTreeGrowth({ topK: 3, depth: 4, totalTokens: 20 }),
      });
      const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
      const prompt = [1, 5, 9, 11];
      const result = await decoder.generate(prompt, { maxTokens: 50 });
      expect(drafter.name).toBe('eagle3');
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 50 })),
      );
      expect(result.stats.acceptanceByDepth.slice(0, 2)).toEqual([1, 1]);
      expect(result.stats.tau).toBeGreaterThan(3.5);
      // The prefilled prompt rows (all but the last token) were committed with their trailing 12 columns.
      expect(target.rows).toHaveLength(prompt.length - 1);
      for (let r = 0; r < prompt.length - 1; r++) {
        expect(Array.from(head.committedFeatureRows[r]!)).toEqual(
          Array.from(target.rows[r]!.subarray(FEATURE)),
        );
      }
    }
  });

  it('lets an EAGLE-2 drafter read the leading feature columns of the same target', async () => {
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 9, sharpness: 2.5 });
    const target = new ToyTarget(model, { featureSize: FEATURE + CAPTURED });
    const drafter = new EagleDrafter(new ToyDraftHead(model), {
      tree: { topK: 3, depth: 4, totalTokens: 20 },
    });
    const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
    const result = await decoder.generate([2, 3, 4], { maxTokens: 40 });
    expect(Array.from(result.tokens)).toEqual(
      Array.from(referenceGreedy(model, [2, 3, 4], { maxTokens: 40 })),
    );
  });

  it('refuses a target whose feature rows are narrower than the captured states', async () => {
    const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 2, sharpness: 2.5 });
    const target = new ToyTarget(model, { featureSize: FEATURE });
    const drafter = new Eagle3Drafter(new ToyEagle3Head(model), {
      tree: { topK: 2, depth: 2, totalTokens: 4 },
    });
    const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
    await expect(decoder.generate([2, 3, 4], { maxTokens: 8 })).rejects.toThrow(
      /the EAGLE-3 head needs target features of width 12; got 4/,
    );
  });

  it('stays lossless under stochastic verification with a weak head (chi-square over two tokens, alpha 1e-3)', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const headModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const target = new ToyTarget(model, { featureSize: FEATURE + CAPTURED });
    const drafter = new Eagle3Drafter(new ToyEagle3Head(headModel), {
      tree: { topK: 2, depth: 2, totalTokens: 4 },
    });
    const { pValue } = await sampleTwoTokens(model, target, drafter, 12000);
    expect(pValue).toBeGreaterThan(1e-3);
  }, 60_000);
  it('draws sampled trees over a reduced draft vocabulary and stays lossless (chi-square over two tokens, alpha 1e-3)', async () => {
    const vocab = 6;
    const model = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 8, sharpness: 1.5 });
    const headModel = new ToyLanguageModel({ vocabSize: vocab, order: 2, seed: 31, sharpness: 1.5 });
    const target = new ToyTarget(model, { featureSize: FEATURE + CAPTURED });
    // Target tokens 1 and 3 lie outside the draft vocabulary: q = 0, so only the residual makes them.
    const draftTokenIds = Int32Array.of(4, 0, 5, 2);
    const head = new ReducedToyEagle3Head(headModel, draftTokenIds);
    const drafter = new Eagle3Drafter(head, {
      growth: new StaticTreeGrowth(new StaticTreeShape([[0, 0, 0], [0, 1], [1, 0], [2]])),
      sample: { temperature: 1, seed: 4 },
    });
    expect(drafter.samples).toBe(true);
    const drafted = new Set<number>();
    const { pValue, tokensPerStep, draftedKinds } = await sampleTwoTokens(model, target, drafter, 12000, {
      onStep: (e) => {
        for (let n = 1; n < e.tree.size; n++) drafted.add(e.tree.tokens[n]!);
      },
    });
    expect([...draftedKinds]).toEqual(['sampled-distinct']);
    expect([...head.logitWidths]).toEqual([4]);
    expect([...drafted].sort()).toEqual([0, 2, 4, 5]);
    expect(pValue).toBeGreaterThan(1e-3);
    expect(tokensPerStep).toBeGreaterThan(1.2);
  }, 60_000);
});
