/** Inputs and statistics shared by the latency benchmarks of the converted tiny models. */
import * as ort from 'onnxruntime-node';
import { causalBias, headCounts, noDrawFeeds } from '../src/testing/index.js';
import { seededRandom } from '../test/helpers/random.js';

/** The tiny family's attention shape: 2 KV heads of 64, hidden size 384. */
const KV_HEADS = 2;
const HEAD_DIM = 64;
const HIDDEN = 384;

/**
 * Session options of the benches that time one model call at a time: one intra-op thread, no
 * spinning, so every model starts a call from the same idle state.
 */
export const ONE_THREAD_SESSION: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
};

/**
 * Inputs for `n` new rows after `past` cached ones: random cache contents in [-0.5, 0.5), a
 * causal bias, `score_rows` n (every row scored); heads also get features and `top_k` 10. Positions run `past + i` for a sequence,
 * or `past + floor(log2(i + 1))` (the depths of a full binary tree's rows) for a tree.
 */
export function decoderFeeds(
  layers: number,
  past: number,
  n: number,
  head: boolean,
  positions: 'sequence' | 'tree' = 'sequence',
): Record<string, ort.Tensor> {
  const random = seededRandom(past * 131 + n);
  const fill = (length: number) => Float32Array.from({ length }, () => random() - 0.5);
  const position = positions === 'tree' ? (i: number) => Math.floor(Math.log2(i + 1)) : (i: number) => i;
  const kv = [1, past, KV_HEADS, HEAD_DIM];
  const out: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(5 + ((i * 37) % 8000))),
      [1, n],
    ),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(past + position(i))),
      [1, n],
    ),
    attention_bias: new ort.Tensor('float32', causalBias(past, n), [1, 1, n, past + n]),
  };
  for (let l = 0; l < layers; l++) {
    out[`past_key.${l}`] = new ort.Tensor('float32', fill(past * KV_HEADS * HEAD_DIM), kv);
    out[`past_value.${l}`] = new ort.Tensor('float32', fill(past * KV_HEADS * HEAD_DIM), kv);
  }
  if (head) {
    out.feature = new ort.Tensor(
      'float32',
      fill(n * HIDDEN).map((x) => x * 4),
      [1, n, HIDDEN],
    );
    Object.assign(out, headCounts(10, n));
  } else {
    out.score_rows = new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]); // a verification: every row
    // ...reading its logits: the graph draws no tokens itself.
    Object.assign(out, noDrawFeeds());
  }
  return out;
}

/** Median, 10th and 90th percentile of timings in milliseconds. */
export function percentiles(samples: readonly number[]): { medianMs: number; p10Ms: number; p90Ms: number } {
  const s = [...samples].sort((a, b) => a - b);
  const q = (x: number) => s[Math.min(s.length - 1, Math.floor(x * s.length))]!;
  return { medianMs: q(0.5), p10Ms: q(0.1), p90Ms: q(0.9) };
}
