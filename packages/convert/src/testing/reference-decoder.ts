/**
 * A reference decoder for checking converted models with ONNX Runtime directly: raw feeds in
 * the layout docs/onnx-layout.md specifies, a KV cache grown by copying (simple, not fast). The
 * runners of `@treespec/onnx` are the fast path; this is what tests compare against.
 */
import { ContractError } from '@treespec/core';
import { loadOnnxRuntime } from '@treespec/onnxruntime';
import { type InferenceSession, Tensor } from 'onnxruntime-common';

/** A masked position of the additive attention bias (a very negative finite float32). */
export const MASKED = -3.4028234663852886e38;

/** KV cache of every layer in the bsnh layout: [1, P, kvHeads, headDim] each. */
export interface KvCache {
  readonly length: number;
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
}

/** An empty cache. */
export function emptyCache(layers: number): KvCache {
  return {
    length: 0,
    keys: Array.from({ length: layers }, () => new Float32Array(0)),
    values: Array.from({ length: layers }, () => new Float32Array(0)),
  };
}

/** Opens a converted model on the CPU with all graph optimizations, on the process's ONNX Runtime. */
export function openSession(path: string, threads = 1): Promise<InferenceSession> {
  return loadOnnxRuntime().InferenceSession.create(path, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
  });
}

/** Causal bias for `n` new rows after `past` cached ones: row i sees the cache and rows 0..i. */
export function causalBias(past: number, n: number): Float32Array {
  const bias = new Float32Array(n * (past + n));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) bias[i * (past + n) + past + j] = MASKED;
  return bias;
}

/** int64 tensor [1, values.length]. */
export function int64Row(values: readonly number[]): Tensor {
  return new Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
}

/** A head's count inputs: `top_k` candidates per scored row, `score_rows` trailing rows scored. */
export function headCounts(topK: number, scoreRows: number): Record<string, Tensor> {
  return {
    top_k: new Tensor('int64', BigInt64Array.of(BigInt(topK)), [1]),
    score_rows: new Tensor('int64', BigInt64Array.of(BigInt(scoreRows)), [1]),
  };
}

/** A target's sampler inputs for a call that draws no tokens in the graph (its logits are read). */
export function noDrawFeeds(): Record<string, Tensor> {
  return {
    sample_uniforms: new Tensor('float32', new Float32Array(0), [0, 2]),
    sample_temperature: new Tensor('float32', Float32Array.of(1), [1]),
  };
}

/**
 * Runs a causal LM (or, with `extra`, a head) over `tokens` after `cache`, returning all outputs
 * and the cache extended by the new entries. A graph with a `score_rows` input (draft LMs, heads)
 * scores every row, and one with a `top_k` input takes one candidate, unless `extra` says otherwise.
 */
export async function runDecoder(
  session: InferenceSession,
  shape: { layers: number; kvHeads: number; headDim: number },
  tokens: readonly number[],
  positions: readonly number[],
  bias: Float32Array,
  cache: KvCache,
  extra: Record<string, Tensor> = {},
): Promise<{ outputs: InferenceSession.ReturnType; cache: KvCache }> {
  const n = tokens.length;
  const p = cache.length;
  const { layers, kvHeads, headDim } = shape;
  const feeds: Record<string, Tensor> = {
    input_ids: int64Row(tokens),
    position_ids: int64Row(positions),
    attention_bias: new Tensor('float32', bias, [1, 1, n, p + n]),
    ...(session.inputNames.includes('score_rows')
      ? { score_rows: new Tensor('int64', BigInt64Array.of(BigInt(n)), [1]) }
      : {}),
    // A target draws no tokens itself here: every row's logits are read.
    ...(session.inputNames.includes('sample_uniforms') ? noDrawFeeds() : {}),
    // A draft LM's in-graph top-k: one candidate (heads are given theirs in `extra`).
    ...(session.inputNames.includes('top_k')
      ? { top_k: new Tensor('int64', BigInt64Array.of(1n), [1]) }
      : {}),
    ...extra,
  };
  for (let l = 0; l < layers; l++) {
    feeds[`past_key.${l}`] = new Tensor('float32', cache.keys[l]!, [1, p, kvHeads, headDim]);
    feeds[`past_value.${l}`] = new Tensor('float32', cache.values[l]!, [1, p, kvHeads, headDim]);
  }
  const outputs = await session.run(feeds);
  const grow = (old: Float32Array, added: Tensor) => {
    const next = new Float32Array(old.length + added.data.length);
    next.set(old);
    next.set(added.data as Float32Array, old.length);
    return next;
  };
  return {
    outputs,
    cache: {
      length: p + n,
      keys: cache.keys.map((k, l) => grow(k, outputs[`present_key.${l}`]!)),
      values: cache.values.map((v, l) => grow(v, outputs[`present_value.${l}`]!)),
    },
  };
}

/** Largest |a[i] - b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new ContractError(`maxAbsDiff needs equal lengths; got ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Runs `tokens` as a new sequence: positions 0…n-1, each row seeing itself and the rows before
 * it, nothing cached; `extra` feeds what a head also takes (its `feature`, {@link headCounts}).
 */
export function runSequence(
  session: InferenceSession,
  shape: { layers: number; kvHeads: number; headDim: number },
  tokens: readonly number[],
  extra: Record<string, Tensor> = {},
): Promise<{ outputs: InferenceSession.ReturnType; cache: KvCache }> {
  const positions = tokens.map((_, i) => i);
  return runDecoder(
    session,
    shape,
    tokens,
    positions,
    causalBias(0, tokens.length),
    emptyCache(shape.layers),
    extra,
  );
}
