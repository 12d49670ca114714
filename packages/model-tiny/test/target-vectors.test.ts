import { readFileSync } from 'node:fs';
import { causalBias, maxAbsDiff, runDecoder, runSequence } from '@treespec/convert/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, type TinyModelId, tinyTestVectorsPath } from '../src/node.js';
import { argmaxRow, type LoadedModel, loadTinyModel, logSumExpRow } from './helpers/bundle.js';

/**
 * The reference numbers come from PyTorch fp32 on the same bf16 weights. The issue asks for
 * 1e-3 absolute on logits, logsumexp and features; fp32 ONNX Runtime vs fp32 PyTorch differ only
 * in summation order, measured at about 5e-5 here, so 1e-3 still catches any real fault.
 */
const TOLERANCE = 1e-3;
/** Greedy steps whose recorded top-1/top-2 margin is at most this may legitimately flip. */
const MARGIN = 1e-3;

interface Position {
  position: number;
  first64: number[];
  argmax: number;
  logsumexp: number;
  top10_ids: number[];
  top10_logits: number[];
  feature_first16: number[];
  feature_l2_norm: number;
}

interface Case {
  prompt_ids: number[];
  greedy_ids: number[];
  top1_top2_margin: number[];
  positions?: Position[];
}

for (const id of [TINY_MODEL_IDS.target, TINY_MODEL_IDS.draft] as TinyModelId[]) {
  describe(`converted ${id} reproduces its PyTorch test vectors`, () => {
    const vectors = JSON.parse(readFileSync(tinyTestVectorsPath(id), 'utf8')) as { cases: Case[] };
    let model: LoadedModel;
    beforeAll(async () => {
      model = await loadTinyModel(id);
    });
    afterAll(async () => {
      await model.session.release();
    });

    it('matches logits, argmax, logsumexp, top-10 and features at the recorded positions', async () => {
      const c = vectors.cases[0]!;
      const { vocab, hidden } = model.entry.dims;
      const { outputs } = await runSequence(model.session, model.shape, c.prompt_ids);
      const logits = outputs.logits!.data as Float32Array;
      const features = outputs.feature!.data as Float32Array;
      expect(c.positions!.length).toBe(3);
      for (const p of c.positions!) {
        const row = logits.subarray(p.position * vocab, (p.position + 1) * vocab);
        expect(maxAbsDiff(row.subarray(0, 64), p.first64)).toBeLessThan(TOLERANCE);
        expect(argmaxRow(logits, p.position, vocab)).toBe(p.argmax);
        expect(Math.abs(logSumExpRow(logits, p.position, vocab) - p.logsumexp)).toBeLessThan(TOLERANCE);
        expect(
          maxAbsDiff(
            p.top10_ids.map((t) => row[t]!),
            p.top10_logits,
          ),
        ).toBeLessThan(TOLERANCE);
        const feature = features.subarray(p.position * hidden, (p.position + 1) * hidden);
        expect(maxAbsDiff(feature.subarray(0, 16), p.feature_first16)).toBeLessThan(TOLERANCE);
        expect(Math.abs(Math.hypot(...feature) - p.feature_l2_norm)).toBeLessThan(TOLERANCE * 10);
      }
    });

    it('continues every prompt greedily with the recorded 48 tokens where the margin is decisive', async () => {
      const { vocab } = model.entry.dims;
      let decisive = 0;
      for (const c of vectors.cases) {
        const n = c.prompt_ids.length;
        let step = await runSequence(model.session, model.shape, c.prompt_ids);
        let rows = n;
        for (let t = 0; t < c.greedy_ids.length; t++) {
          const predicted = argmaxRow(step.outputs.logits!.data as Float32Array, rows - 1, vocab);
          if (c.top1_top2_margin[t]! > MARGIN) {
            expect(predicted, `case "${c.prompt_ids.length} tokens", step ${t}`).toBe(c.greedy_ids[t]);
            decisive++;
          }
          step = await runDecoder(
            model.session,
            model.shape,
            [c.greedy_ids[t]!],
            [n + t],
            causalBias(n + t, 1),
            step.cache,
          );
          rows = 1;
        }
      }
      expect(decisive).toBeGreaterThan(vectors.cases.length * 40);
    });
  });
}
