import { ModelFormatError } from '@treespec/core';
import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import {
  type CausalLmLayout,
  HeadMajorKvCache,
  KvCache,
  OnnxCausalLm,
  OnnxDraftLm,
  SharedKvCache,
} from '../src/internal.js';

/** A session that is never run: these tests stop at construction. */
const UNUSED_SESSION = {} as InferenceSession;

function layout(attention: CausalLmLayout['attention']): CausalLmLayout {
  const layers = [0, 1];
  return {
    vocabSize: 96,
    hiddenSize: 32,
    layers: 2,
    kvHeads: 2,
    headDim: 8,
    maxContext: 100_000,
    dtype: 'float32',
    attention,
    names: {
      inputIds: 'input_ids',
      positionIds: 'position_ids',
      attentionBias: 'attention_bias',
      pastKeys: layers.map((l) => `past_key.${l}`),
      pastValues: layers.map((l) => `past_value.${l}`),
      logits: 'logits',
      feature: 'feature',
      presentKeys: layers.map((l) => `present_key.${l}`),
      presentValues: layers.map((l) => `present_value.${l}`),
    },
  };
}

describe('runners and attention layouts', () => {
  it('gives a plain target a bsnh cache, an in-place one a head-major cache and a fused one a shared bnsh cache, each sized by one chunk, not the context', () => {
    const plain = new OnnxCausalLm(UNUSED_SESSION, layout('plain'));
    const inPlace = new OnnxCausalLm(UNUSED_SESSION, layout('in-place'), { cacheChunk: 32 });
    expect(inPlace.cache).toBeInstanceOf(HeadMajorKvCache);
    expect(inPlace.cache.allocatedRows).toBe(32);
    const fused = new OnnxCausalLm(UNUSED_SESSION, layout('fused'), { cacheChunk: 64 });
    expect(plain.cache).toBeInstanceOf(KvCache);
    expect(plain.cache.allocatedRows).toBe(256);
    expect(fused.cache).toBeInstanceOf(SharedKvCache);
    expect(fused.cache.allocatedRows).toBe(64);
    expect((fused.cache as SharedKvCache).keyTensors[1]!.dims).toEqual([1, 2, 64, 8]);
  });

  it('refuses a draft LM with fused attention, naming the plain fallback', () => {
    const error = (() => {
      try {
        new OnnxDraftLm(UNUSED_SESSION, layout('fused'));
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain('convert it with attention "plain"');
  });
});
