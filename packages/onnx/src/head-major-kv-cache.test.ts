import { ContextOverflowError, DraftTree, KeepPlan, MASKED_BIAS, planKeep } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { OnnxCausalLm } from './causal-lm-runner.js';
import { chunkedRows, HeadMajorKvCache } from './head-major-kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

const KV_HEADS = 2;
const HEAD_DIM = 3;
const LAYERS = 2;

const NAMES = {
  pastKeys: ['past_key.0', 'past_key.1'],
  pastValues: ['past_value.0', 'past_value.1'],
  presentKeys: ['present_key.0', 'present_key.1'],
  presentValues: ['present_value.0', 'present_value.1'],
  logits: 'logits',
  feature: 'feature',
};

/** Entry `[head h, row r, j]` of the token at position p of layer l: keys and values told apart by sign. */
const entry = (l: number, h: number, p: number, j: number, value: boolean) =>
  (value ? -1 : 1) * (l * 10_000 + h * 1000 + p * 10 + j);

/**
 * A stand-in for an in-place-attention model: it records what it was fed and returns each new
 * row's entries head-major ([1, kvHeads, N, headDim]) for the positions it is given.
 */
class FakeModel {
  readonly fed: { past: number; bias: Float32Array; biasDims: readonly number[] }[] = [];
  constructor(private readonly positions: () => number[]) {}

  session(): InferenceSession {
    return {
      run: async (feeds: Record<string, Tensor>) => {
        const past = feeds['past_key.0']!.dims[2]!;
        const bias = feeds.attention_bias!;
        this.fed.push({ past, bias: Float32Array.from(bias.data as Float32Array), biasDims: bias.dims });
        const positions = this.positions();
        const n = positions.length;
        const out: Record<string, Tensor> = {
          logits: new Tensor('float32', new Float32Array(n * 4), [1, n, 4]),
        };
        for (let l = 0; l < LAYERS; l++) {
          for (const value of [false, true]) {
            const data = new Float32Array(KV_HEADS * n * HEAD_DIM);
            for (let h = 0; h < KV_HEADS; h++)
              for (let r = 0; r < n; r++)
                for (let j = 0; j < HEAD_DIM; j++)
                  data[(h * n + r) * HEAD_DIM + j] = entry(l, h, positions[r]!, j, value);
            out[`${value ? 'present_value' : 'present_key'}.${l}`] = new Tensor('float32', data, [
              1,
              KV_HEADS,
              n,
              HEAD_DIM,
            ]);
          }
        }
        return out;
      },
      release: async () => {},
    } as unknown as InferenceSession;
  }
}

/** Every cached row of `cache`, as the entries of the positions it should hold. */
function expectCached(cache: HeadMajorKvCache, positions: readonly number[]): void {
  const rows = cache.allocatedRows;
  for (let l = 0; l < LAYERS; l++)
    for (let h = 0; h < KV_HEADS; h++)
      for (const [k, p] of positions.entries())
        for (let j = 0; j < HEAD_DIM; j++) {
          const at = (h * rows + k) * HEAD_DIM + j;
          expect(cache.keys(l)[at]).toBe(entry(l, h, p, j, false));
          expect(cache.values(l)[at]).toBe(entry(l, h, p, j, true));
        }
}

const LAYOUT: CausalLmLayout = {
  vocabSize: 4,
  hiddenSize: 8,
  layers: LAYERS,
  kvHeads: KV_HEADS,
  headDim: HEAD_DIM,
  maxContext: 64,
  dtype: 'float32',
  attention: 'in-place',
  names: {
    inputIds: 'input_ids',
    positionIds: 'position_ids',
    attentionBias: 'attention_bias',
    ...NAMES,
  },
};

describe('chunkedRows', () => {
  it('rounds up to whole chunks, never doubling, and stops at the capacity', () => {
    expect(chunkedRows(0, 100, 16)).toBe(16);
    expect(chunkedRows(17, 100, 16)).toBe(32);
    expect(chunkedRows(33, 100, 16)).toBe(48);
    expect(chunkedRows(97, 100, 16)).toBe(100);
    expect(() => chunkedRows(101, 100, 16)).toThrow(ContextOverflowError);
  });
});

describe('HeadMajorKvCache under OnnxCausalLm', () => {
  it('feeds the whole buffer, masks the rows past the cached ones, and keeps the accepted rows head by head through growth', async () => {
    let positions: number[] = [];
    const model = new FakeModel(() => positions);
    const runner = new OnnxCausalLm(model.session(), LAYOUT, { cacheChunk: 4, prefillChunk: 3 });
    const cache = runner.cache as HeadMajorKvCache;
    expect(cache).toBeInstanceOf(HeadMajorKvCache);
    expect(cache.pastRows).toBe(4);

    // A prefill of 5 tokens, in two calls: the second is fed 4 rows, 3 of them cached.
    positions = [0, 1, 2];
    await runner.prefill(Int32Array.of(0, 1, 2));
    positions = [3, 4];
    await runner.prefill(Int32Array.of(3, 4));
    expect(cache.length).toBe(5);
    expect(cache.allocatedRows).toBe(8);
    const second = model.fed[1]!;
    expect(second.past).toBe(4);
    expect(second.biasDims).toEqual([1, 1, 2, 6]);
    // Row 0 (position 3) sees cached rows 0..2, not the unused row 3, then itself; row 1 both new rows.
    expect(Array.from(second.bias)).toEqual([
      0,
      0,
      0,
      MASKED_BIAS,
      0,
      MASKED_BIAS,
      0,
      0,
      0,
      MASKED_BIAS,
      0,
      0,
    ]);
    expectCached(cache, [0, 1, 2, 3, 4]);

    // A tree of 4 nodes after 5 cached rows (8 allocated): 0 -> {1, 2}, 2 -> 3; keep 0, 2, 3.
    const tree = new DraftTree(4);
    tree.reset(1);
    tree.add(0, 2, 0);
    tree.add(0, 3, 0);
    tree.add(2, 3, 0);
    positions = [100, 101, 102, 103];
    await runner.verify(tree);
    const fed = model.fed[2]!;
    expect(fed.past).toBe(8);
    expect(fed.biasDims).toEqual([1, 1, 4, 12]);
    const row = (i: number) => Array.from(fed.bias.subarray(i * 12, (i + 1) * 12));
    const M = MASKED_BIAS;
    expect(row(3)).toEqual([0, 0, 0, 0, 0, M, M, M, 0, M, 0, 0]);
    const path = Int32Array.of(0, 2, 3);
    runner.commit(planKeep(tree, path, 3, new KeepPlan(4)));
    expect(cache.length).toBe(8);
    expect(cache.allocatedRows).toBe(8);
    expectCached(cache, [0, 1, 2, 3, 4, 100, 102, 103]);

    // One more token grows the buffer by one chunk, to 12 rows, keeping every head's rows.
    const next = new DraftTree(1);
    next.reset(2);
    positions = [200];
    await runner.verify(next);
    expect(model.fed[3]!.biasDims).toEqual([1, 1, 1, 9]);
    runner.commit(planKeep(next, Int32Array.of(0), 1, new KeepPlan(1)));
    expect(cache.allocatedRows).toBe(12);
    expectCached(cache, [0, 1, 2, 3, 4, 100, 102, 103, 200]);

    // A reset gives back all but one chunk, so the next generation reads 4 rows, not 12.
    runner.reset();
    expect(cache.length).toBe(0);
    expect(cache.allocatedRows).toBe(4);
    expect(cache.reserve(9)).toBe(true);
    expect(cache.allocatedRows).toBe(12);
    expect(cache.reserve(12)).toBe(false);
    expect(() => cache.reserve(65)).toThrow(ContextOverflowError);
    await runner.dispose();
  });
});
