import { readFileSync } from 'node:fs';
import { causalBias, headCounts, maxAbsDiff, runDecoder, runSequence } from '@treespec/convert/testing';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, tinyTestVectorsPath } from '../src/node.js';
import { type LoadedModel, loadTinyModel } from './helpers/bundle.js';

/** PyTorch fp32 vs ONNX Runtime fp32 on identical weights: differences are summation order only (~6e-6 measured). */
const TOLERANCE = 1e-3;

interface HeadCase {
  prompt_ids: number[];
  target_next_token: number;
  head_input_ids: number[];
  target_feature_last_first16: number[];
  head_pred_feature_last_first16: number[];
  head_pred_feature_last_l2_norm: number;
  head_top5_ids: number[];
  head_top5_logits: number[];
  head_greedy_chain_ids: number[];
}

describe('converted fp32 EAGLE-2 head reproduces its PyTorch test vectors', () => {
  const vectors = JSON.parse(readFileSync(tinyTestVectorsPath(TINY_MODEL_IDS.eagleHeadFp32), 'utf8')) as {
    cases: HeadCase[];
  };
  let target: LoadedModel;
  let head: LoadedModel;
  beforeAll(async () => {
    target = await loadTinyModel(TINY_MODEL_IDS.target);
    head = await loadTinyModel(TINY_MODEL_IDS.eagleHeadFp32);
  });
  afterAll(async () => {
    await target.session.release();
    await head.session.release();
  });

  it('predicts the recorded feature, top-5 tokens and logits, and drafts the recorded greedy chain', async () => {
    const hidden = head.entry.dims.hidden;
    for (const c of vectors.cases) {
      const n = c.prompt_ids.length;
      const t = await runSequence(target.session, target.shape, c.prompt_ids);
      const features = t.outputs.feature!.data as Float32Array;
      expect(
        maxAbsDiff(features.subarray((n - 1) * hidden, (n - 1) * hidden + 16), c.target_feature_last_first16),
      ).toBeLessThan(TOLERANCE);

      let step = await runSequence(head.session, head.shape, c.head_input_ids, {
        feature: t.outputs.feature!,
        ...headCounts(5, n),
      });
      const predicted = (step.outputs.hidden!.data as Float32Array).subarray((n - 1) * hidden, n * hidden);
      expect(maxAbsDiff(predicted.subarray(0, 16), c.head_pred_feature_last_first16)).toBeLessThan(TOLERANCE);
      expect(Math.abs(Math.hypot(...predicted) - c.head_pred_feature_last_l2_norm)).toBeLessThan(
        TOLERANCE * 10,
      );
      const ids = Array.from(
        (step.outputs.top_ids!.data as BigInt64Array).subarray((n - 1) * 5, n * 5),
        Number,
      );
      expect(ids).toEqual(c.head_top5_ids);
      const vocab = head.entry.dims.vocab;
      const logits = (step.outputs.logits!.data as Float32Array).subarray((n - 1) * vocab, n * vocab);
      expect(
        maxAbsDiff(
          ids.map((i) => logits[i]!),
          c.head_top5_logits,
        ),
      ).toBeLessThan(TOLERANCE);

      const chain: number[] = [];
      let row = n - 1;
      let feature = Float32Array.from(predicted);
      for (let depth = 0; depth < c.head_greedy_chain_ids.length; depth++) {
        const token = Number((step.outputs.top_ids!.data as BigInt64Array)[row * 5]);
        chain.push(token);
        step = await runDecoder(
          head.session,
          head.shape,
          [token],
          [n + depth],
          causalBias(n + depth, 1),
          step.cache,
          {
            feature: new ort.Tensor('float32', feature, [1, 1, hidden]),
            ...headCounts(5, 1),
          },
        );
        feature = Float32Array.from(step.outputs.hidden!.data as Float32Array);
        row = 0;
      }
      expect(chain).toEqual(c.head_greedy_chain_ids);
    }
  });

  it('returns top_log_probs as the sorted top-k of log_softmax(logits)', async () => {
    const c = vectors.cases[1]!;
    const n = c.prompt_ids.length;
    const t = await runSequence(target.session, target.shape, c.prompt_ids);
    const { outputs } = await runSequence(head.session, head.shape, c.head_input_ids, {
      feature: t.outputs.feature!,
      ...headCounts(10, n),
    });
    const vocab = head.entry.dims.vocab;
    const logits = outputs.logits!.data as Float32Array;
    const values = outputs.top_log_probs!.data as Float32Array;
    const ids = outputs.top_ids!.data as BigInt64Array;
    expect(outputs.top_log_probs!.dims).toEqual([1, n, 10]);
    for (let r = 0; r < n; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      const expected = Array.from(row, (x, i) => [x - lse, i] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, 10);
      for (let k = 0; k < 10; k++) {
        expect(values[r * 10 + k]!).toBeCloseTo(expected[k]![0], 4);
        if (k > 0) expect(values[r * 10 + k]!).toBeLessThanOrEqual(values[r * 10 + k - 1]!);
      }
      expect(Number(ids[r * 10])).toBe(expected[0]![1]);
    }
  });
});
