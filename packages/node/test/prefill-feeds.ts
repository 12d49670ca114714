import { writeCausalBias } from '@treespec/core';
import type { CausalLmLayout } from '@treespec/onnx';
import { Tensor } from 'onnxruntime-common';

/**
 * A target's feeds for a prefill of `ids` after an empty cache: a causal bias, `scored` rows
 * scored, and `uniforms` (pairs, one per drawn row; none by default) at temperature 1.
 */
export function prefillFeeds(
  layout: CausalLmLayout,
  ids: readonly number[],
  scored: number,
  uniforms: readonly number[] = [],
): Record<string, Tensor> {
  const { names, kvHeads, headDim } = layout;
  const rows = ids.length;
  const bias = new Float32Array(rows * rows);
  writeCausalBias(0, rows, bias);
  const empty = new Tensor('float32', new Float32Array(0), [1, 0, kvHeads, headDim]);
  const feeds: Record<string, Tensor> = {
    [names.inputIds]: new Tensor('int64', BigInt64Array.from(ids, BigInt), [1, rows]),
    [names.positionIds]: new Tensor(
      'int64',
      BigInt64Array.from(ids, (_, i) => BigInt(i)),
      [1, rows],
    ),
    [names.attentionBias]: new Tensor('float32', bias, [1, 1, rows, rows]),
    [names.scoreRows!]: new Tensor('int64', BigInt64Array.of(BigInt(scored)), [1]),
    [names.sampler!.uniforms]: new Tensor('float32', Float32Array.from(uniforms), [uniforms.length / 2, 2]),
    [names.sampler!.temperature]: new Tensor('float32', Float32Array.of(1), [1]),
  };
  for (const name of [...names.pastKeys, ...names.pastValues]) feeds[name] = empty;
  return feeds;
}
