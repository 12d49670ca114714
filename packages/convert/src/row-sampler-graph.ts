import type { ModelInputs, ModelOutputs } from '@treespec/onnx';
import type { GraphBuilder } from './graph-builder.js';
import { OnnxDataType } from './onnx-proto.js';

/**
 * Tokens a row is split into for {@link sampledTokens}: the power of two nearest above the square
 * root of the vocabulary (128 for 8192 tokens, 512 for 128,256), so that neither level sums many
 * float32 terms.
 */
export function samplerBlockSize(vocab: number): number {
  return 2 ** Math.ceil(Math.log2(Math.sqrt(vocab)));
}

/**
 * A target's `sampledToken`: for each of the first k rows of the `[rows, vocab]` logits (k the
 * rows of the `sampleUniforms` input, float32 [k, 2]), a token drawn from the softmax of the row at
 * `sampleTemperature`, in two levels: the row's tokens are split into blocks of
 * {@link samplerBlockSize}; the first uniform picks a block by inverse CDF of the blocks' weights,
 * the second a token of that block by inverse CDF of its weights within it. That draws each token
 * with its softmax probability, and in float32 only (which every provider runs, WebGPU's included):
 * each cumulative sum adds at most a few hundred terms, and each level resolves 2^-24 of its own
 * mass, so a token far rarer than 2^-24 keeps its share of its block where one float32 inverse CDF
 * over the whole vocabulary would round it away (its cumulative sums drifted by over 1e-5 over
 * 8192 tokens). Each level's cumulative weights are divided by their total, which makes the last
 * exactly 1: any uniform below 1 picks something, and never a block or token of weight 0 (its
 * cumulative value equals its predecessor's). Cumulative sums run over the block weights and the
 * chosen block's weights only; a block's weight is its weights' product with ones. The row's
 * largest logit, subtracted before `Exp`, is reduced over the drawn rows or, when the call draws
 * nothing, its first row (a call has one at least) and then sliced to the drawn ones, and every
 * count is a cumulative sum's last column: no reduction over no rows, which WebGPU refuses. Indices are int32, which
 * WebGPU runs on the device, where int64 ones (ONNX's argmax) sent each draw to the host and back
 * twice. Given the names, the rows' weights (`exp((logit − largest) / temperature)`,
 * [1, k, vocab]) and their sums over the blocks ([1, k]) are outputs too: the distribution a tree
 * drawn from a draft distribution is verified against. Returns the drawn tokens (int32 [k]).
 */
export function sampledTokens(
  g: GraphBuilder,
  logits: string,
  vocab: number,
  names: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs },
): string {
  const uniforms = g.input(names.inputs.sampleUniforms!, OnnxDataType.FLOAT, ['sampled', 2]);
  const temperature = g.input(names.inputs.sampleTemperature!, OnnxDataType.FLOAT, [1]);
  const size = samplerBlockSize(vocab);
  const blocks = Math.ceil(vocab / size);
  const k = g.op('Slice', [g.op('Shape', [uniforms]), g.int64([0]), g.int64([1])]);
  const rows = g.op('Slice', [logits, g.int64([0]), k, g.int64([0])]);
  // At least one row, so that a call drawing nothing reduces one row rather than none or all.
  const reduced = g.op('Slice', [logits, g.int64([0]), g.op('Max', [k, g.int64([1])]), g.int64([0])]);
  const rowMaxima = g.op('ReduceMax', [reduced], { axes: [-1], keepdims: 1 });
  const largest = g.op('Div', [g.op('Slice', [rowMaxima, g.int64([0]), k, g.int64([0])]), temperature]);
  const weights = g.op('Exp', [g.op('Sub', [g.op('Div', [rows, temperature]), largest])], {}, 'row_weights');
  const padded =
    blocks * size > vocab ? g.op('Pad', [weights, g.int64([0, 0, 0, blocks * size - vocab])]) : weights;
  const blocked = g.op('Reshape', [padded, g.int64([0, blocks, size])]);
  // Each block's weight as a product with ones: ONNX Runtime's CumSum over a whole row of 8192
  // tokens cost 27 µs, and a reduction is refused on WebGPU over a call's empty rows.
  const blockWeights = g.op('Reshape', [
    g.op('MatMul', [blocked, g.float32(new Array<number>(size).fill(1), [size, 1])]),
    g.int64([0, blocks]),
  ]);
  const blockTotals = g.op('CumSum', [blockWeights, g.int64([1], [])]);
  const block = firstAbove(g, blockTotals, column(g, uniforms, 0));
  const index = g.op('Expand', [
    g.op('Unsqueeze', [block, g.int64([1, 2])]),
    g.op('Concat', [k, g.int64([1, size])], { axis: 0 }),
  ]);
  const chosen = g.op('Reshape', [g.op('GatherElements', [blocked, index], { axis: 1 }), g.int64([0, size])]);
  const token = g.op('Add', [
    g.op('Mul', [block, g.int32([size], [])]),
    firstAbove(g, g.op('CumSum', [chosen, g.int64([1], [])]), column(g, uniforms, 1)),
  ]);
  g.output(g.op('Reshape', [token, g.int64([1, -1])]), names.outputs.sampledToken!, OnnxDataType.INT32, [
    1,
    'sampled',
  ]);
  if (names.outputs.sampleWeights && names.outputs.sampleMass) {
    g.output(g.op('Unsqueeze', [weights, g.int64([0])]), names.outputs.sampleWeights, OnnxDataType.FLOAT, [
      1,
      'sampled',
      vocab,
    ]);
    const mass = g.op('Reshape', [lastColumn(g, blockTotals, 1), g.int64([1, -1])]);
    g.output(mass, names.outputs.sampleMass, OnnxDataType.FLOAT, [1, 'sampled']);
  }
  return token;
}

/** The last entry of `x` along `axis`, kept as an axis of size 1. */
function lastColumn(g: GraphBuilder, x: string, axis: number): string {
  return g.op('Slice', [x, g.int64([-1]), g.int64([Number.MAX_SAFE_INTEGER]), g.int64([axis])]);
}

/** Column `c` of `x` [n, 2], as [n, 1]. */
function column(g: GraphBuilder, x: string, c: number): string {
  return g.op('Slice', [x, g.int64([c]), g.int64([c + 1]), g.int64([1])]);
}

/**
 * For each row of the cumulative weights `cumulative` [n, m], the index (int32 [n]) of the first
 * entry whose share of the row's total exceeds the row's `uniform` [n, 1]: the number of entries
 * at or below it, counted as a cumulative sum's last column.
 */
function firstAbove(g: GraphBuilder, cumulative: string, uniform: string): string {
  const share = g.op('Div', [cumulative, lastColumn(g, cumulative, 1)]);
  const below = g.op('Cast', [g.op('LessOrEqual', [share, uniform])], { to: OnnxDataType.FLOAT });
  const count = g.op('Reshape', [lastColumn(g, g.op('CumSum', [below, g.int64([1], [])]), 1), g.int64([-1])]);
  return g.op('Cast', [count], { to: OnnxDataType.INT32 });
}
