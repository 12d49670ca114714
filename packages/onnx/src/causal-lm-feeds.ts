import { Tensor } from 'onnxruntime-common';
import type { Int64Buffer } from './int64.js';
import type { CausalLmLayout } from './model-layout.js';

/** A cache whose first `rows` rows of a layer can be fed as `[1, rows, kvHeads, headDim]` tensors. */
export interface CacheTensors {
  readonly length: number;
  keyTensor(layer: number, rows: number): Tensor;
  valueTensor(layer: number, rows: number): Tensor;
}

/**
 * The feeds of one causal-LM call: `rows` new tokens with their position ids after the
 * `cache.length` cached ones, the `[1, 1, rows, cache.length + rows]` additive bias, and every
 * layer's cache as the cache gives it (zero-copy views of a host cache).
 */
export function causalLmFeeds(
  layout: CausalLmLayout,
  cache: CacheTensors,
  ids: Int64Buffer,
  positions: Int64Buffer,
  bias: Float32Array,
  rows: number,
): Record<string, Tensor> {
  const { names } = layout;
  const past = cache.length;
  const width = past + rows;
  const feeds: Record<string, Tensor> = {
    [names.inputIds]: new Tensor('int64', ids.values.subarray(0, rows), [1, rows]),
    [names.positionIds]: new Tensor('int64', positions.values.subarray(0, rows), [1, rows]),
    [names.attentionBias]: new Tensor('float32', bias.subarray(0, rows * width), [1, 1, rows, width]),
  };
  for (let l = 0; l < layout.layers; l++) {
    feeds[names.pastKeys[l]] = cache.keyTensor(l, past);
    feeds[names.pastValues[l]] = cache.valueTensor(l, past);
  }
  return feeds;
}
