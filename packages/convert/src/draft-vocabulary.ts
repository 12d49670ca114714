import type { ModelOutputs } from '@treespec/onnx';
import { quantizeRows } from './block-quantization.js';
import type { GraphBuilder } from './graph-builder.js';
import { type Matrix, rowBlocks } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { packedOutput } from './packed-output.js';
import type { WeightFormat } from './weight-format.js';

/**
 * A reduced draft vocabulary: draft id d stands for target id `targetIds[d]`. EAGLE-3 heads bring
 * one (`d2t`); FR-Spec builds one from token frequencies. Target ids are distinct and below the
 * target's vocabulary size.
 */
export interface DraftVocabularyMap {
  readonly targetIds: Int32Array;
  /**
   * Most tokens of the generation's context (outside `targetIds`) an EAGLE-1/2 head also scores,
   * fed per call as `context_ids`; absent or 0: none.
   */
  readonly contextTokens?: number;
}

/** The context part of a head's draft vocabulary: its target ids (an int64 input [C]) and their logits [N, C]. */
export interface ContextScores {
  readonly ids: string;
  readonly logits: string;
}

/** One scale per row, 8-bit codes: how the lm_head rows of context tokens are stored in a quantized head. */
const CONTEXT_ROWS = { bits: 8, symmetric: true } as const;

/**
 * Logits of the context tokens `ids` (int64 [C], any C ≥ 0): `x` [N, H] times their lm_head rows,
 * picked per call from a table of every row. The table is `lmHead` in float32, or, `quantized`,
 * 8-bit codes with one float scale per row (`quantizeRows`, symmetric, a block as wide as a row): a
 * quarter of the bytes, and precise enough for drafts, which never change the output.
 */
export async function contextLogits(
  g: GraphBuilder,
  x: string,
  lmHead: Matrix,
  ids: string,
  quantized: boolean,
): Promise<string> {
  if (!quantized)
    return g.op('Gemm', [x, g.op('Gather', [await g.matrix(lmHead), ids], { axis: 0 })], { transB: 1 });
  const q = { ...CONTEXT_ROWS, blockSize: lmHead.cols };
  const scales = new Float32Array(lmHead.rows);
  let row = 0;
  const codes = (async function* () {
    for await (const block of rowBlocks(lmHead)) {
      const rows = block.length / lmHead.cols;
      const coded = quantizeRows(block, rows, lmHead.cols, q);
      scales.set(coded.scales, row);
      row += rows;
      yield coded.codes;
    }
  })();
  const table = await g.initializer(
    `${lmHead.label}.context_codes`,
    OnnxDataType.UINT8,
    [lmHead.rows, lmHead.cols],
    codes,
    lmHead.rows * lmHead.cols,
  );
  const scale = await g.tensor(`${lmHead.label}.context_scales`, [lmHead.rows, 1], scales);
  const codesAsFloat = g.op('Cast', [g.op('Gather', [table, ids], { axis: 0 })], { to: OnnxDataType.FLOAT });
  const rows = g.op('Mul', [
    g.op('Sub', [codesAsFloat, g.float32([1 << (q.bits - 1)], [])]),
    g.op('Gather', [scale, ids], { axis: 0 }),
  ]);
  return g.op('Gemm', [x, rows], { transB: 1 });
}

/** The rows of `matrix` at `rows`, in that order (the lm_head rows of a draft vocabulary). */
export function selectRows(matrix: Matrix, rows: Int32Array, label: string): Matrix {
  return {
    label,
    rows: rows.length,
    cols: matrix.cols,
    async read(start, count) {
      const out = new Float32Array(count * matrix.cols);
      for (let r = 0; r < count; r++) out.set(await matrix.read(rows[start + r]!, 1), r * matrix.cols);
      return out;
    },
  };
}

/** float32's smallest normal number: the least probability a draft model's log-probabilities are taken of. */
const SMALLEST_NORMAL_FLOAT32 = 2 ** -126;

/**
 * TopK of a row-wise softmax `probs` [N, columns] with `topK` candidates: the log of each (at
 * least float32's smallest normal number, so every log-probability stays finite) and their
 * column indices (int64).
 */
export function topLogProbabilities(g: GraphBuilder, probs: string, topK: string): [string, string] {
  const [top, indices] = g.opN('TopK', [probs, topK], 2, { axis: -1, largest: 1, sorted: 1 });
  return [flooredLog(g, top!), indices!];
}

/** Each row's exact entropy −Σ p·log p (nats) of a row-wise softmax `probs` [N, columns]: [N]. */
export function rowEntropies(g: GraphBuilder, probs: string): string {
  const sum = g.op('ReduceSum', [g.op('Mul', [probs, flooredLog(g, probs)]), g.int64([-1])], { keepdims: 0 });
  return g.op('Neg', [sum]);
}

/** log(max(p, float32's smallest normal number)): finite for every probability. */
function flooredLog(g: GraphBuilder, p: string): string {
  return g.op('Log', [g.op('Max', [p, g.float32([SMALLEST_NORMAL_FLOAT32], [])])]);
}

/**
 * The tail every head graph shares: `logits` = `x` [N, H] times `lmHead` (one row per draft
 * token), `top_log_probs`/`top_ids` = TopK(log_softmax(logits), top_k), computed as the log of
 * the top-k of the softmax (a probability below float32's smallest normal number counts as that
 * number, so every log-probability stays finite): ONNX Runtime's WebGPU provider has no
 * `LogSoftmax`, which ran on the host in the middle of every head call (a download and an upload
 * on the device's queue), where `Softmax`, `TopK`, `Max` and `Log` run on the device. On the CPU it
 * costs what `LogSoftmax` did (8 rows of 8192 logits: 0.13 ms either way, the same 2e-6 from
 * float64 log-probabilities; a `ReduceLogSumExp` beside the top-k cost 0.33 ms and erred by 4e-5).
 * With a draft vocabulary the top ids are mapped in-graph through its draft→target table (an int64
 * initializer), so the graph returns target ids and every runner, tree and verifier stays in the
 * target vocabulary. With `context` scores the softmax and the top-k run over the draft tokens and the context
 * tokens together (`logits` stays over the draft tokens, which sampled trees are drawn from).
 * Given `outputs.draftProbabilities`, that softmax is output too (over the draft tokens, then the
 * context tokens where they are scored): a sampled tree's draft distribution at temperature 1,
 * which JavaScript would otherwise compute, over the same tokens its top-k trees draw from.
 * Given `outputs.stepOutputs`, the scored rows' `hidden` [N, H], their top-k log-probabilities
 * and their top ids (as floats) are also output together, flattened in that order: on WebGPU the
 * top ids reach the host in the middle of the call (TopK's indices are int64, which the device
 * has no kernels for, so the table lookup runs on the host) and go back up as floats, and the
 * call's end downloads one tensor instead of two.
 */
export async function draftLogitsTail(
  g: GraphBuilder,
  format: WeightFormat,
  x: string,
  lmHead: Matrix,
  vocabulary: DraftVocabularyMap | null,
  topK: string,
  outputs: ModelOutputs,
  hidden: string,
  context: ContextScores | null = null,
): Promise<void> {
  const logits = await format.linear(g, x, lmHead, null);
  const scored = context ? g.op('Concat', [logits, context.logits], { axis: -1 }) : logits;
  const probs = g.op('Softmax', [scored], { axis: -1 });
  const [values, indices] = topLogProbabilities(g, probs, topK);
  let ids = indices;
  if (vocabulary) {
    const table = BigInt64Array.from(vocabulary.targetIds, (id) => BigInt(id));
    const name = await g.initializer(
      'draft_to_target',
      OnnxDataType.INT64,
      [table.length],
      [new Uint8Array(table.buffer)],
      table.byteLength,
    );
    const targets = context ? g.op('Concat', [name, context.ids], { axis: 0 }) : name;
    ids = g.op('Gather', [targets, ids], { axis: 0 });
  }
  g.output(g.op('Reshape', [logits, g.int64([1, -1, lmHead.rows])]), outputs.logits, OnnxDataType.FLOAT, [
    1,
    'new',
    lmHead.rows,
  ]);
  g.output(g.op('Unsqueeze', [values, g.int64([0])]), outputs.topLogProbs!, OnnxDataType.FLOAT, [
    1,
    'new',
    'k',
  ]);
  g.output(g.op('Unsqueeze', [ids, g.int64([0])]), outputs.topIds!, OnnxDataType.INT64, [1, 'new', 'k']);
  if (outputs.draftProbabilities) {
    g.output(g.op('Unsqueeze', [probs, g.int64([0])]), outputs.draftProbabilities, OnnxDataType.FLOAT, [
      1,
      'new',
      context ? 'columns' : lmHead.rows,
    ]);
  }
  if (outputs.stepOutputs)
    packedOutput(g, [hidden, values, g.op('Cast', [ids], { to: OnnxDataType.FLOAT })], outputs.stepOutputs);
}

/** Logit of the tokens outside a draft LM's draft vocabulary: finite, so entropies and temperatures stay finite. */
export const OUTSIDE_DRAFT_LOGIT = -1e30;

/**
 * Spreads the draft-vocabulary logits [N, K] of a draft LM over the target's vocabulary [N, vocab]
 * (`ScatterElements` through the draft→target table), every other token at
 * {@link OUTSIDE_DRAFT_LOGIT}: the runner, the drafter's top-k and its sampled distributions see
 * the full vocabulary, in which tokens outside the draft vocabulary have probability 0.
 */
export async function scatterToVocabulary(
  g: GraphBuilder,
  logits: string,
  vocabulary: DraftVocabularyMap,
  vocab: number,
): Promise<string> {
  const ids = BigInt64Array.from(vocabulary.targetIds, (id) => BigInt(id));
  const table = await g.initializer(
    'draft_to_target',
    OnnxDataType.INT64,
    [1, ids.length],
    [new Uint8Array(ids.buffer)],
    ids.byteLength,
  );
  const shape = g.op('Shape', [logits]);
  const rows = g.op('Slice', [shape, g.int64([0]), g.int64([1])]);
  const outside = g.op('Expand', [
    g.float32([OUTSIDE_DRAFT_LOGIT], [1, 1]),
    g.op('Concat', [rows, g.int64([vocab])], { axis: 0 }),
  ]);
  const indices = g.op('Expand', [table, shape]);
  return g.op('ScatterElements', [outside, indices, logits], { axis: 1 });
}
