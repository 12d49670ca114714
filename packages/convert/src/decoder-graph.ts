import type { DecoderConfig } from './config.js';
import { floatAttr, type GraphBuilder } from './graph-builder.js';
import type { AttentionWeights, LayerWeights, MlpWeights } from './layer-weights.js';
import { concatRows, type Matrix, scaleMatrix } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { MS_DOMAIN } from './quantized-weights.js';
import { ropeTables } from './rope.js';
import { trailingRows } from './scored-rows.js';
import type { WeightFormat } from './weight-format.js';

/**
 * Graph-shape choices that do not change the model's function. The defaults are the fastest
 * measured on onnxruntime-node's CPU execution provider (see packages/convert/bench).
 */
export interface GraphOptions {
  /** One matmul for q, k and v, then Split (default true). */
  readonly fuseQkv: boolean;
  /** One matmul for gate and up, then Split (default true). */
  readonly fuseGateUp: boolean;
  /**
   * RMSNorm as primitive ops (`primitive`, portable everywhere; ONNX Runtime fuses the pattern
   * itself), or as the kernels ONNX Runtime registers (`simplified`, the default):
   * `SimplifiedLayerNormalization`, and `com.microsoft.SkipSimplifiedLayerNormalization` where a
   * residual addition comes before the norm (ONNX Runtime does not fuse that pair on its own in
   * these 2-D graphs), one node instead of two.
   */
  readonly norm: 'primitive' | 'simplified';
  /**
   * Rotary embedding as primitive ops from gathered cos/sin rows (`primitive`), or as
   * `com.microsoft.RotaryEmbedding` over the query and key heads together (`fused`, the default:
   * one node per layer instead of five, the tables read by position id inside the kernel).
   */
  readonly rope: 'primitive' | 'fused';
  /** Fold 1/sqrt(headDim) into the query projection instead of scaling q at run time (default true). */
  readonly foldScale: boolean;
  /**
   * Precision of plain attention's sums over the keys (the softmax's total and the weighted
   * values). In `float32` ONNX Runtime's kernels group a sum's terms by column (vector lanes,
   * blocks of the inner dimension), so a tree node, whose ancestors sit at other columns than the
   * same tokens in a plain step, gets an attention output that can differ from the plain step's in
   * the last bits. `float64` sums in double and rounds once to float32, so a row's output no longer
   * depends on where the tree puts the other rows. Weight formats that quantize activations
   * ({@link WeightFormat.quantizesActivations}) can turn one such bit into another code, and greedy
   * speculative decoding into another token; the converter gives their targets `float64` by
   * default, every other model `float32`. The fused attention (`attention: 'fused'`) ignores it.
   */
  readonly attentionPrecision?: 'float32' | 'float64';
}

/** The default {@link GraphOptions}. */
export const DEFAULT_GRAPH_OPTIONS: GraphOptions = {
  fuseQkv: true,
  fuseGateUp: true,
  norm: 'simplified',
  rope: 'fused',
  foldScale: true,
};

/**
 * How attention is built: `plain` from MatMul/Softmax over concat(past, new), with `present_*`
 * holding only the new entries (runs on every provider); `in-place` from the same ops reading a
 * head-major cache buffer ([1, kvHeads, capacity, headDim], the rows past the cached ones masked
 * by the bias) where it lies, one query head at a time for a plain token, with `present_*` the new
 * entries head-major (for long contexts of real models on the CPU, where copying and packing the
 * cache costs more than reading it); `fused` as ONNX Runtime's `com.microsoft.GroupQueryAttention`
 * over a cache buffer shared by `past_*` and `present_*` ([1, kvHeads, capacity, headDim], written
 * in place), so a call touches only its new rows.
 */
export type AttentionKind = 'plain' | 'in-place' | 'fused';

/** Per-call values every layer reads. */
export interface SharedInputs {
  /** The rotary embedding's inputs, as {@link GraphOptions.rope} builds it. */
  readonly rope: PrimitiveRope | FusedRope;
  /** Plain attention: [N * group, P + N], the attention bias repeated once per query head sharing a KV head. */
  readonly bias: string;
  /** Plain attention: [N, P + N], the bias's row of each new row, before that repetition. */
  readonly biasRows: string;
  /** Fused attention: the [1, 1, N, P + N] bias as fed, and GroupQueryAttention's int32 lengths. */
  readonly fused: FusedInputs | null;
  /** In-place attention: the per-call shapes every layer reshapes by. */
  readonly inPlace: InPlaceShapes | null;
}

/**
 * What in-place attention reshapes by, derived once per call from the bias [1, 1, N, C + N] (C the
 * cache buffer's rows). Query rows are multiplied with the cache in `b` batches per KV head: one
 * per query head (`b` = group) when N = 1, so that each MatMul has one row and MLAS streams the
 * cache instead of packing it, and one (`b` = 1) for a tree, whose rows share a packed cache.
 */
export interface InPlaceShapes {
  /** int64 [4]: [kvHeads, b, -1, headDim], the grouped query rows batched for the cache. */
  readonly queryBatches: string;
  /** int64 [4]: [kvHeads, b, -1, C], the cached columns of the softmax weights batched alike. */
  readonly weightBatches: string;
  /** int64 [3]: [kvHeads, -1, C], scores against the cache back to one batch per KV head. */
  readonly cacheScores: string;
  /** int64 [2]: [C, N], where the softmax weights split between the cache and the new rows. */
  readonly split: string;
}

/** Rotary rows gathered per call for the primitive-op rotation. */
export interface PrimitiveRope {
  readonly kind: 'primitive';
  /** [N, 1, headDim] cosines of each row's position. */
  readonly cos: string;
  /** [N, 1, headDim] sines, sign-folded: -sin on the first half, +sin on the second. */
  readonly sin: string;
}

/** What `com.microsoft.RotaryEmbedding` reads: the position ids and half-width tables. */
export interface FusedRope {
  readonly kind: 'fused';
  /** int64 [1, N], the graph input. */
  readonly positions: string;
  /** [maxContext, headDim / 2] cosines and sines of every position. */
  readonly cos: string;
  readonly sin: string;
}

/** The per-call values GroupQueryAttention reads, derived in the graph from the bias's shape. */
export interface FusedInputs {
  readonly bias: string;
  /** int32 [1]: P + N - 1. */
  readonly seqlensK: string;
  /** int32 scalar: P + N. */
  readonly totalLength: string;
}

/** What the layer builders need besides weights. */
export interface DecoderContext {
  readonly g: GraphBuilder;
  readonly format: WeightFormat;
  readonly options: GraphOptions;
  readonly config: DecoderConfig;
  /** Default `plain`. */
  readonly attention?: AttentionKind;
}

/** Graph input names shared by causal LMs and heads. */
export interface CommonInputNames {
  readonly inputIds: string;
  readonly positionIds: string;
  readonly attentionBias: string;
}

/**
 * Declares `input_ids`, `position_ids` and `attention_bias`, and builds what all layers share:
 * the flattened ids [N], the rotary rows gathered by position id from tables of `maxContext`
 * positions, and the bias tiled for grouped-query attention.
 */
export async function declareSharedInputs(
  ctx: DecoderContext,
  names: CommonInputNames,
  maxContext: number,
): Promise<{ ids: string; shared: SharedInputs }> {
  const { g, config } = ctx;
  const ids = g.input(names.inputIds, OnnxDataType.INT64, [1, 'new']);
  const positions = g.input(names.positionIds, OnnxDataType.INT64, [1, 'new']);
  const bias = g.input(names.attentionBias, OnnxDataType.FLOAT, [1, 1, 'new', 'total']);
  const fused = ctx.attention === 'fused';
  const group = config.heads / config.kvHeads;
  const bias2d = fused ? bias : g.op('Squeeze', [bias, g.int64([0, 1])], {}, 'bias_rows');
  const inPlace =
    ctx.attention === 'in-place' ? inPlaceShapes(g, bias, config.kvHeads, group, config.headDim) : null;

  return {
    ids: g.op('Reshape', [ids, g.int64([-1])], {}, 'ids'),
    shared: {
      rope: await ropeInputs(ctx, positions, maxContext),
      bias: fused ? bias2d : perQueryHead(g, bias2d, group, 'bias_tiled'),
      biasRows: bias2d,
      fused: fused ? fusedInputs(g, bias) : null,
      inPlace,
    },
  };
}

/** {@link InPlaceShapes} from the bias [1, 1, N, C + N]. */
function inPlaceShapes(
  g: GraphBuilder,
  bias: string,
  kvHeads: number,
  group: number,
  d: number,
): InPlaceShapes {
  const rows = g.op('Shape', [bias], { start: 2, end: 3 });
  const cached = g.op('Sub', [g.op('Shape', [bias], { start: 3 }), rows], {}, 'cache_rows');
  // b = group when N = 1, else 1: 1 + (group - 1) * (N == 1).
  const batches =
    group === 1
      ? g.int64([1])
      : g.op('Add', [
          g.int64([1]),
          g.op('Mul', [
            g.op('Cast', [g.op('Equal', [rows, g.int64([1])])], { to: OnnxDataType.INT64 }),
            g.int64([group - 1]),
          ]),
        ]);
  const kv = g.int64([kvHeads]);
  return {
    queryBatches: g.op('Concat', [kv, batches, g.int64([-1, d])], { axis: 0 }, 'query_batches'),
    weightBatches: g.op('Concat', [kv, batches, g.int64([-1]), cached], { axis: 0 }, 'weight_batches'),
    cacheScores: g.op('Concat', [g.int64([kvHeads, -1]), cached], { axis: 0 }, 'cache_scores'),
    split: g.op('Concat', [cached, rows], { axis: 0 }, 'weight_split'),
  };
}

/** The rotary tables of `maxContext` positions, and for primitive ops each row's cos/sin picked by position id. */
async function ropeInputs(
  ctx: DecoderContext,
  positions: string,
  maxContext: number,
): Promise<PrimitiveRope | FusedRope> {
  const { g, config, options } = ctx;
  const d = config.headDim;
  const { cos, sin } = ropeTables(config.rope, d, maxContext);
  if (options.rope === 'fused') {
    // Rotate-half tables repeat each frequency in both halves; the kernel reads the first half.
    const half = (table: Float32Array) => {
      const out = new Float32Array(maxContext * (d / 2));
      for (let p = 0; p < maxContext; p++) out.set(table.subarray(p * d, p * d + d / 2), (p * d) / 2);
      return out;
    };
    return {
      kind: 'fused',
      positions,
      cos: await g.tensor('rope_cos_half', [maxContext, d / 2], half(cos)),
      sin: await g.tensor('rope_sin_half', [maxContext, d / 2], half(sin)),
    };
  }
  for (let p = 0; p < maxContext; p++) for (let j = 0; j < d / 2; j++) sin[p * d + j] = -sin[p * d + j]!;
  const flatPositions = g.op('Reshape', [positions, g.int64([-1])], {}, 'positions');
  const rows = async (label: string, table: Float32Array) => {
    const t = await g.tensor(label, [maxContext, d], table);
    const picked = g.op('Gather', [t, flatPositions], { axis: 0 });
    return g.op('Reshape', [picked, g.int64([-1, 1, d])], {}, `${label}_rows`);
  };
  return { kind: 'primitive', cos: await rows('rope_cos', cos), sin: await rows('rope_sin', sin) };
}

/** GroupQueryAttention's lengths from the bias [1, 1, N, P + N]: seqlens_k = P + N - 1, total = P + N. */
function fusedInputs(g: GraphBuilder, bias: string): FusedInputs {
  const total = g.op('Cast', [g.op('Shape', [bias], { start: 3 })], { to: OnnxDataType.INT32 });
  return {
    bias,
    seqlensK: g.op('Sub', [total, g.int32([1])], {}, 'seqlens_k'),
    totalLength: g.op('Squeeze', [total, g.int64([0])], {}, 'total_sequence_length'),
  };
}

/** RMSNorm over the last axis, computed in float32: x / sqrt(mean(x²) + eps) * weight. */
export async function rmsNorm(
  ctx: DecoderContext,
  x: string,
  weight: Float32Array,
  label: string,
): Promise<string> {
  const { g, format, options, config } = ctx;
  const w = await format.vector(g, label, weight);
  if (options.norm === 'simplified') {
    return g.op('SimplifiedLayerNormalization', [x, w], {
      axis: -1,
      epsilon: floatAttr(config.rmsNormEps),
      stash_type: 1,
    });
  }
  return primitiveRmsNorm(g, x, w, config.rmsNormEps);
}

/**
 * The residual stream between the blocks of a decoder: `h`, with `delta` (a block's output) still
 * to be added, so that the addition and the next RMSNorm can be one node.
 */
export interface Residual {
  readonly h: string;
  readonly delta: string | null;
}

/** `residual.h + residual.delta` as one value (an Add when a delta is pending). */
export function residualSum(ctx: DecoderContext, residual: Residual, hint?: string): string {
  return residual.delta === null ? residual.h : ctx.g.op('Add', [residual.h, residual.delta], {}, hint);
}

/**
 * The residual sum and its RMSNorm: `SkipSimplifiedLayerNormalization` (both from one node) with
 * `norm: 'simplified'` and a pending delta, otherwise the addition and {@link rmsNorm}.
 */
export async function residualNorm(
  ctx: DecoderContext,
  residual: Residual,
  weight: Float32Array,
  label: string,
  sumHint?: string,
): Promise<{ sum: string; normed: string }> {
  const { g, format, options, config } = ctx;
  if (options.norm !== 'simplified' || residual.delta === null) {
    const sum = residualSum(ctx, residual, sumHint);
    return { sum, normed: await rmsNorm(ctx, sum, weight, label) };
  }
  const w = await format.vector(g, label, weight);
  const [normed, , , sum] = g.opInN(
    MS_DOMAIN,
    1,
    'SkipSimplifiedLayerNormalization',
    [residual.h, residual.delta, w],
    [g.unique(`${label}_out`), '', '', g.unique(sumHint ?? `${label}_sum`)],
    { epsilon: floatAttr(config.rmsNormEps) },
  );
  return { sum: sum!, normed: normed! };
}

/** The primitive-op RMSNorm, in the Pow/ReduceMean/Add/Sqrt/Div/Mul pattern ONNX Runtime fuses. */
function primitiveRmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const squared = g.op('Pow', [x, g.float32([2], [])]);
  const mean = g.op('ReduceMean', [squared], { axes: [-1], keepdims: 1 });
  const root = g.op('Sqrt', [g.op('Add', [mean, g.float32([eps], [])])]);
  return g.op('Mul', [g.op('Div', [x, root]), weight]);
}

/** Rotates [1, N, heads, headDim] by the rows' positions (rotate-half convention). */
function applyRope(g: GraphBuilder, x: string, shared: SharedInputs, headDim: number, hint?: string): string {
  const { rope } = shared;
  if (rope.kind === 'fused') {
    const flat = g.op('Reshape', [x, g.int64([1, 0, -1])]);
    return g.op('Reshape', [fusedRope(g, flat, rope), g.int64([1, 0, -1, headDim])], {}, hint);
  }
  const [first, second] = g.opN('Split', [x, g.int64([headDim / 2, headDim / 2])], 2, { axis: 3 });
  const swapped = g.op('Concat', [second!, first!], { axis: 3 });
  return g.op('Add', [g.op('Mul', [x, rope.cos]), g.op('Mul', [swapped, rope.sin])], {}, hint);
}

/** `com.microsoft.RotaryEmbedding` of [1, N, heads * headDim] (rotate-half, heads from the table width). */
function fusedRope(g: GraphBuilder, flat: string, rope: FusedRope): string {
  return g.opIn(MS_DOMAIN, 1, 'RotaryEmbedding', [flat, rope.positions, rope.cos, rope.sin], {
    interleaved: 0,
  });
}

/** Names of the layer's KV cache inputs and outputs. */
export interface KvNames {
  readonly pastKey: string;
  readonly pastValue: string;
  readonly presentKey: string;
  readonly presentValue: string;
  /** Plain attention: the output names of the layer's cache after the call (`ModelOutputs.cacheKey`), if any. */
  readonly cacheKey?: string;
  readonly cacheValue?: string;
}

/**
 * Grouped-query self-attention of the new rows over the cached ones and each other, under the
 * additive tree bias, built as {@link DecoderContext.attention} says. Declares the layer's
 * `past_*` inputs and `present_*` outputs (keys after RoPE). With `queryRows` (an int64 [1] such
 * as a head's `score_rows`) every new row's key and value still enter the cache, but only the
 * last `queryRows` rows attend and are projected, and the result has those rows alone: the last
 * layer of a graph whose later rows alone are read (a head catching up on committed rows).
 */
export async function attention(
  ctx: DecoderContext,
  x: string,
  weights: AttentionWeights,
  shared: SharedInputs,
  kv: KvNames,
  layer: number,
  queryRows: string | null = null,
): Promise<string> {
  const { g, format, options, config } = ctx;
  const { heads, kvHeads, headDim: d } = config;
  const scale = 1 / Math.sqrt(d);
  // Folded into fp16-stored weights, a scale that is not a power of two would round them once more.
  const exactInFormat = format.name !== 'fp16' || Number.isInteger(Math.log2(scale));
  const scaleInWeights = options.foldScale && !weights.qNorm && exactInFormat;
  const scaleInNorm = options.foldScale && weights.qNorm !== null;
  const folded = scaleInWeights || scaleInNorm;
  const q = scaleInWeights ? scaleMatrix(weights.q, scale) : weights.q;
  const qBias = weights.qBias && scaleInWeights ? weights.qBias.map((b) => b * scale) : weights.qBias;
  const qNorm = weights.qNorm && scaleInNorm ? weights.qNorm.map((w) => w * scale) : weights.qNorm;
  const prefix = `layers.${layer}.attn`;
  // Plain attention's new entries are its present outputs; in-place attention transposes them into
  // its outputs, and fused attention writes them to the cache.
  const plain = !shared.fused && !shared.inPlace;
  const keyName = plain ? kv.presentKey : g.unique(`${prefix}.k`);
  const valueName = plain ? kv.presentValue : g.unique(`${prefix}.v`);
  const heads4 = (value: string, n: number, hint?: string) =>
    g.op('Reshape', [value, g.int64([1, -1, n, d])], {}, hint);

  let qh: string;
  let newKeys: string;
  let newValues: string;
  if (options.fuseQkv) {
    // One projection, one RoPE over the query and key heads together, then split.
    const w = concatRows(`${prefix}.qkv`, [q, weights.k, weights.v]);
    const b = qBias ? concatVectors(qBias, weights.kBias!, weights.vBias!) : null;
    const qkv = await format.linear(g, x, w, b);
    let rotated: string;
    if (shared.rope.kind === 'fused' && !(qNorm && weights.kNorm)) {
      // [N, (heads + 2 kv) d] -> q and k rows [1, N, (heads + kv) d] for the kernel, v heads.
      const [qk, v] = g.opN('Split', [qkv, g.int64([(heads + kvHeads) * d, kvHeads * d])], 2, { axis: 1 });
      [newValues] = g.opNamed('Reshape', [v!, g.int64([1, -1, kvHeads, d])], [valueName]) as [string];
      const flat = g.op('Reshape', [qk!, g.int64([1, -1, (heads + kvHeads) * d])]);
      rotated = heads4(fusedRope(g, flat, shared.rope), heads + kvHeads);
    } else {
      const [qk] = g.opNamed(
        'Split',
        [heads4(qkv, heads + 2 * kvHeads), g.int64([heads + kvHeads, kvHeads])],
        [g.unique(`${prefix}.qk`), valueName],
        { axis: 2 },
      );
      newValues = valueName;
      rotated = qk!;
      if (qNorm && weights.kNorm) {
        const table = new Float32Array((heads + kvHeads) * d);
        for (let h = 0; h < heads + kvHeads; h++) table.set(h < heads ? qNorm : weights.kNorm, h * d);
        const w = await format.vector(g, `${prefix}.qk_norm`, table, [heads + kvHeads, d]);
        rotated = primitiveRmsNorm(g, rotated, w, config.rmsNormEps);
      }
      rotated = applyRope(g, rotated, shared, d);
    }
    [qh, newKeys] = g.opNamed(
      'Split',
      [rotated, g.int64([heads, kvHeads])],
      [g.unique(`${prefix}.q`), keyName],
      {
        axis: 2,
      },
    ) as [string, string];
  } else {
    qh = heads4(await format.linear(g, x, renamed(q, `${prefix}.q`), qBias), heads);
    let kh = heads4(await format.linear(g, x, renamed(weights.k, `${prefix}.k`), weights.kBias), kvHeads);
    newValues = heads4(await format.linear(g, x, renamed(weights.v, `${prefix}.v`), weights.vBias), kvHeads);
    if (qNorm && weights.kNorm) {
      qh = primitiveRmsNorm(g, qh, await format.vector(g, `${prefix}.q_norm`, qNorm), config.rmsNormEps);
      kh = primitiveRmsNorm(
        g,
        kh,
        await format.vector(g, `${prefix}.k_norm`, weights.kNorm),
        config.rmsNormEps,
      );
    }
    qh = applyRope(g, qh, shared, d);
    newKeys = applyRope(g, kh, shared, d, keyName);
  }
  // Plain attention scores the kept query rows alone; the fused and in-place kernels take every
  // row, and their results are cut to the kept rows before the output projection.
  const rows = {
    q: plain ? trailingRows(g, qh, queryRows, 1) : qh,
    keys: newKeys,
    values: newValues,
  };
  const attended = shared.fused
    ? fusedAttention(ctx, rows, shared.fused, kv, folded ? 1 : scale)
    : shared.inPlace
      ? inPlaceAttention(ctx, rows, shared.bias, shared.inPlace, kv, folded ? null : scale)
      : plainAttention(ctx, rows, queriedBias(ctx, shared, queryRows), kv, folded ? null : scale);
  const flat = plain ? attended : trailingRows(g, attended, queryRows);
  return format.linear(g, flat, renamed(weights.o, `${prefix}.o`), weights.oBias);
}

/** Plain attention's bias for the last `queryRows` query rows (all of them when null), repeated per query head of a group. */
function queriedBias(ctx: DecoderContext, shared: SharedInputs, queryRows: string | null): string {
  if (!queryRows) return shared.bias;
  const { g, config } = ctx;
  return perQueryHead(g, trailingRows(g, shared.biasRows, queryRows), config.heads / config.kvHeads);
}

/** Bias rows [N, T] repeated once per query head sharing a KV head: [group * N, T] (as they are for one). */
function perQueryHead(g: GraphBuilder, rows: string, group: number, hint?: string): string {
  return group === 1 ? rows : g.op('Tile', [rows, g.int64([group, 1])], {}, hint);
}

/** One layer's new rows after RoPE: q [1, N, heads, d], keys and values [1, N, kvHeads, d]. */
interface NewRows {
  readonly q: string;
  readonly keys: string;
  readonly values: string;
}

/**
 * MatMul/Softmax attention over concat(past, new); `present_*` are the new rows (bsnh), and that
 * concatenation is output too where `kv` names it (`cache_*`). `scale` multiplies q at run time
 * (null when it is folded into the weights). Returns [N, heads * d].
 */
function plainAttention(
  ctx: DecoderContext,
  rows: NewRows,
  bias: string,
  kv: KvNames,
  scale: number | null,
): string {
  const { g, config } = ctx;
  const { kvHeads, headDim: d } = config;
  const qh = scaledQueries(g, rows.q, scale);
  g.output(rows.keys, kv.presentKey, OnnxDataType.FLOAT, [1, 'new', kvHeads, d]);
  g.output(rows.values, kv.presentValue, OnnxDataType.FLOAT, [1, 'new', kvHeads, d]);

  const pastKey = g.input(kv.pastKey, OnnxDataType.FLOAT, [1, 'past', kvHeads, d]);
  const pastValue = g.input(kv.pastValue, OnnxDataType.FLOAT, [1, 'past', kvHeads, d]);
  // Rank-3 views [T, kv, d] transposed to [kv, d, T] and [kv, T, d]: ONNX Runtime folds these
  // transposes into its MatMul (FusedMatMul with transposed batch dimensions), so the cache is read
  // in place instead of being copied.
  const keysT = (k: string) =>
    g.op('Transpose', [g.op('Reshape', [k, g.int64([-1, kvHeads, d])])], { perm: [1, 2, 0] });
  const valuesT = (v: string) =>
    g.op('Transpose', [g.op('Reshape', [v, g.int64([-1, kvHeads, d])])], { perm: [1, 0, 2] });

  const joined = (past: string, added: string, output: string | undefined) => {
    if (!output) return g.op('Concat', [past, added], { axis: 1 });
    const [all] = g.opNamed('Concat', [past, added], [output], { axis: 1 }) as [string];
    g.output(all, output, OnnxDataType.FLOAT, [1, 'total', kvHeads, d]);
    return all;
  };
  const keys = joined(pastKey, rows.keys, kv.cacheKey);
  const values = joined(pastValue, rows.values, kv.cacheValue);
  const scores = g.op('Add', [g.op('MatMul', [groupedQueries(ctx, qh), keysT(keys)]), bias]);
  const context =
    ctx.options.attentionPrecision === 'float64'
      ? float64Weighting(g, scores, valuesT(values))
      : g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), valuesT(values)]);
  return mergedHeads(ctx, context);
}

/** The query rows multiplied by `scale` at run time, or as they are when it is folded (null). */
function scaledQueries(g: GraphBuilder, q: string, scale: number | null): string {
  return scale === null ? q : g.op('Mul', [q, g.float32([scale], [])]);
}

/** Query rows grouped per KV head: [1, N, kv * group, d] -> [kv, group * N, d], row g * N + n. */
function groupedQueries(ctx: DecoderContext, q: string): string {
  const { g, config } = ctx;
  const { kvHeads, headDim: d } = config;
  const group = config.heads / kvHeads;
  if (group === 1)
    return g.op('Transpose', [g.op('Reshape', [q, g.int64([-1, kvHeads, d])])], { perm: [1, 0, 2] });
  return g.op('Reshape', [
    g.op('Transpose', [g.op('Reshape', [q, g.int64([-1, kvHeads, group, d])])], { perm: [1, 2, 0, 3] }),
    g.int64([kvHeads, -1, d]),
  ]);
}

/** The attention context [kv, group * N, d] back to query-head order, [N, heads * d]. */
function mergedHeads(ctx: DecoderContext, context: string): string {
  const { g, config } = ctx;
  const { heads, kvHeads, headDim: d } = config;
  const group = heads / kvHeads;
  const merged =
    group === 1
      ? g.op('Transpose', [context], { perm: [1, 0, 2] })
      : g.op('Transpose', [g.op('Reshape', [context, g.int64([kvHeads, group, -1, d])])], {
          perm: [2, 0, 1, 3],
        });
  return g.op('Reshape', [merged, g.int64([-1, heads * d])]);
}

/**
 * MatMul/Softmax attention that reads the cache where it lies: `past_*` is a head-major buffer
 * [1, kv, C, d] whose rows past the cached ones the bias masks, scored separately from the new
 * rows and joined before the softmax; the weights split again and multiply the cached and the new
 * values separately. The cache is never copied or transposed, and a plain token multiplies it one
 * query head at a time ({@link InPlaceShapes}). `present_*` are the new rows, [1, kv, N, d].
 * Returns [N, heads * d].
 */
function inPlaceAttention(
  ctx: DecoderContext,
  rows: NewRows,
  bias: string,
  shapes: InPlaceShapes,
  kv: KvNames,
  scale: number | null,
): string {
  const { g, config } = ctx;
  const { kvHeads, headDim: d } = config;
  const qh = scaledQueries(g, rows.q, scale);
  const headMajor = (x: string, name: string) =>
    g.opNamed('Transpose', [x], [name], { perm: [0, 2, 1, 3] })[0]!;
  const presentKey = headMajor(rows.keys, kv.presentKey);
  const presentValue = headMajor(rows.values, kv.presentValue);
  g.output(presentKey, kv.presentKey, OnnxDataType.FLOAT, [1, kvHeads, 'new', d]);
  g.output(presentValue, kv.presentValue, OnnxDataType.FLOAT, [1, kvHeads, 'new', d]);
  const pastKey = g.input(kv.pastKey, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  const pastValue = g.input(kv.pastValue, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  // [kv, 1, C, d]: one batch per KV head, broadcast over the query batches; the keys' transpose is
  // folded into the MatMul.
  const cachedKeysT = g.op('Transpose', [g.op('Reshape', [pastKey, g.int64([kvHeads, 1, -1, d])])], {
    perm: [0, 1, 3, 2],
  });
  const cachedValues = g.op('Reshape', [pastValue, g.int64([kvHeads, 1, -1, d])]);
  const newKeysT = g.op('Transpose', [g.op('Reshape', [presentKey, g.int64([kvHeads, -1, d])])], {
    perm: [0, 2, 1],
  });
  const newValues = g.op('Reshape', [presentValue, g.int64([kvHeads, -1, d])]);

  const q = groupedQueries(ctx, qh);
  const cachedScores = g.op('Reshape', [
    g.op('MatMul', [g.op('Reshape', [q, shapes.queryBatches]), cachedKeysT]),
    shapes.cacheScores,
  ]);
  const scores = g.op('Add', [
    g.op('Concat', [cachedScores, g.op('MatMul', [q, newKeysT])], { axis: -1 }),
    bias,
  ]);
  const [cachedWeights, newWeights] = g.opN(
    'Split',
    [g.op('Softmax', [scores], { axis: -1 }), shapes.split],
    2,
    {
      axis: -1,
    },
  ) as [string, string];
  const cachedContext = g.op('Reshape', [
    g.op('MatMul', [g.op('Reshape', [cachedWeights, shapes.weightBatches]), cachedValues]),
    g.int64([kvHeads, -1, d]),
  ]);
  return mergedHeads(ctx, g.op('Add', [cachedContext, g.op('MatMul', [newWeights, newValues])]));
}

/**
 * softmax(scores) · values with the sums in float64: the exponentials are float32 (elementwise, so
 * each is the same wherever its column sits), their products with the values are exact in float64,
 * and the two sums over the keys round once, to float32, after the division.
 */
function float64Weighting(g: GraphBuilder, scores: string, values: string): string {
  const max = g.op('ReduceMax', [scores], { axes: [-1], keepdims: 1 });
  const weights = g.op('Cast', [g.op('Exp', [g.op('Sub', [scores, max])])], { to: OnnxDataType.DOUBLE });
  const weighted = g.op('MatMul', [weights, g.op('Cast', [values], { to: OnnxDataType.DOUBLE })]);
  const total = g.op('ReduceSum', [weights, g.int64([-1])], { keepdims: 1 });
  return g.op('Cast', [g.op('Div', [weighted, total])], { to: OnnxDataType.FLOAT });
}

/**
 * `com.microsoft.GroupQueryAttention` with the tree bias as `attention_bias` (added to its causal
 * mask, which every tree bias implies: a node's ancestors come before it). `past_*` and
 * `present_*` are one bnsh buffer of `capacity` rows that the runner binds to both; the operator
 * writes the new rows at P…P+N-1 and reads the first P + N. Returns [N, heads * d].
 */
function fusedAttention(
  ctx: DecoderContext,
  rows: NewRows,
  inputs: FusedInputs,
  kv: KvNames,
  scale: number,
): string {
  const { g, config } = ctx;
  const { heads, kvHeads, headDim: d } = config;
  const flat = (value: string, n: number) => g.op('Reshape', [value, g.int64([1, -1, n * d])]);
  const pastKey = g.input(kv.pastKey, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  const pastValue = g.input(kv.pastValue, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  const [out, presentKey, presentValue] = g.opInN(
    MS_DOMAIN,
    1,
    'GroupQueryAttention',
    [
      flat(rows.q, heads),
      flat(rows.keys, kvHeads),
      flat(rows.values, kvHeads),
      pastKey,
      pastValue,
      inputs.seqlensK,
      inputs.totalLength,
      '',
      '',
      '',
      inputs.bias,
    ],
    [g.unique('attn'), kv.presentKey, kv.presentValue],
    { num_heads: heads, kv_num_heads: kvHeads, scale: floatAttr(scale) },
  );
  g.output(presentKey!, kv.presentKey, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  g.output(presentValue!, kv.presentValue, OnnxDataType.FLOAT, [1, kvHeads, 'capacity', d]);
  return g.op('Reshape', [out!, g.int64([-1, heads * d])]);
}

/** SwiGLU: down(silu(gate(x)) * up(x)). */
export async function mlp(
  ctx: DecoderContext,
  x: string,
  weights: MlpWeights,
  layer: number,
): Promise<string> {
  const { g, format, options, config } = ctx;
  const prefix = `layers.${layer}.mlp`;
  let gate: string;
  let up: string;
  if (options.fuseGateUp) {
    const w = concatRows(`${prefix}.gate_up`, [weights.gate, weights.up]);
    const b = weights.gateBias ? concatVectors(weights.gateBias, weights.upBias!) : null;
    const both = await format.linear(g, x, w, b);
    [gate, up] = g.opN('Split', [both, g.int64([config.intermediate, config.intermediate])], 2, {
      axis: 1,
    }) as [string, string];
  } else {
    gate = await format.linear(g, x, renamed(weights.gate, `${prefix}.gate`), weights.gateBias);
    up = await format.linear(g, x, renamed(weights.up, `${prefix}.up`), weights.upBias);
  }
  const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
  return format.linear(g, g.op('Mul', [silu, up]), renamed(weights.down, `${prefix}.down`), weights.downBias);
}

/**
 * One decoder layer: h + attn(norm(h)), then + mlp(norm(.)); without input norm for EAGLE heads.
 * Takes and returns the residual stream with the last block's output pending (see
 * {@link Residual}), so each addition can share a node with the norm after it. With `outputRows`
 * (int64 [1]) the layer returns the last `outputRows` rows alone, having computed every row's key
 * and value but those rows' attention and MLP only ({@link attention}'s `queryRows`).
 */
export async function decoderLayer(
  ctx: DecoderContext,
  x: Residual,
  weights: LayerWeights,
  shared: SharedInputs,
  kv: KvNames,
  layer: number,
  outputRows: string | null = null,
): Promise<Residual> {
  const input = weights.inputNorm
    ? await residualNorm(ctx, x, weights.inputNorm, `layers.${layer}.input_norm`, `layers.${layer}.input`)
    : { sum: residualSum(ctx, x, `layers.${layer}.input`), normed: null };
  const attended = await attention(
    ctx,
    input.normed ?? input.sum,
    weights.attention,
    shared,
    kv,
    layer,
    outputRows,
  );
  const { sum: h, normed } = await residualNorm(
    ctx,
    { h: trailingRows(ctx.g, input.sum, outputRows), delta: attended },
    weights.postAttentionNorm,
    `layers.${layer}.post_attention_norm`,
    `layers.${layer}.attn_residual`,
  );
  return { h, delta: await mlp(ctx, normed, weights.mlp, layer) };
}

function concatVectors(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function renamed(m: Matrix, label: string): Matrix {
  return { ...m, label };
}
