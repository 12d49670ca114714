import { readFileSync } from 'node:fs';
import { Checkpoint } from '@treespec/convert';
import { causalBias, headCounts, maxAbsDiff, runDecoder, runSequence } from '@treespec/convert/testing';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, tinyCheckpointDirectory, tinyTestVectorsPath } from '../src/node.js';
import { type LoadedModel, loadTinyModel, logSumExpRow } from './helpers/bundle.js';

/** PyTorch fp32 vs ONNX Runtime fp32 on identical weights: differences are summation order only. */
const TOLERANCE = 1e-3;

interface ChainStep {
  position: number;
  hidden_first16: number[];
  hidden_l2_norm: number;
  top1_draft_id: number;
  top1_target_id: number;
  top1_logit: number;
}

interface Eagle3Case {
  prompt_ids: number[];
  head_input_ids: number[];
  target_hidden_layer2_input_last_first16: number[];
  target_hidden_layer2_input_last_l2_norm: number;
  target_hidden_layer4_input_last_first16: number[];
  target_hidden_layer4_input_last_l2_norm: number;
  target_hidden_layer5_input_last_first16: number[];
  target_hidden_layer5_input_last_l2_norm: number;
  fc_out_last_first16: number[];
  head_out_last_first16: number[];
  head_out_last_l2_norm: number;
  draft_top5_draft_ids: number[];
  draft_top5_target_ids: number[];
  draft_top5_logits: number[];
  draft_logsumexp: number;
  greedy_chain_target_ids: number[];
  greedy_chain_steps: ChainStep[];
}

const vectors = JSON.parse(readFileSync(tinyTestVectorsPath(TINY_MODEL_IDS.eagle3Head), 'utf8')) as {
  cases: Eagle3Case[];
};

/** Largest relative difference of an L2 norm. */
const normError = (values: ArrayLike<number>, expected: number) =>
  Math.abs(Math.hypot(...Array.from(values)) - expected) / expected;

describe('converted EAGLE-3 head and its target reproduce the PyTorch test vectors', () => {
  let target: LoadedModel;
  let head: LoadedModel;
  beforeAll(async () => {
    target = await loadTinyModel(TINY_MODEL_IDS.target);
    head = await loadTinyModel(TINY_MODEL_IDS.eagle3Head);
  });
  afterAll(async () => {
    await target.session.release();
    await head.session.release();
  });

  const noRows = (width: number) => new ort.Tensor('float32', new Float32Array(0), [1, 0, width]);

  it('records the captured layers and the draft vocabulary with its d2t target ids in the manifest', () => {
    expect(target.entry.capturedLayers).toEqual([2, 4, 5]);
    expect(target.entry.outputs.capturedFeature).toBe('captured_feature');
    expect(head.entry.capturedLayers).toEqual([2, 4, 5]);
    expect(head.entry.draftVocab).toMatchObject({ size: 2048, source: 'eagle3-d2t' });
    const targetIds = head.entry.draftVocab!.targetIds!;
    expect(targetIds).toHaveLength(2048);
    for (const c of vectors.cases)
      expect(c.draft_top5_draft_ids.map((d) => targetIds[d])).toEqual(c.draft_top5_target_ids);
  });

  it('captures the inputs of target layers 2, 4 and 5 after the feature', async () => {
    const hidden = target.entry.dims.hidden;
    for (const c of vectors.cases) {
      const n = c.prompt_ids.length;
      const t = await runSequence(target.session, target.shape, c.prompt_ids);
      const captured = t.outputs.captured_feature!;
      expect(captured.dims).toEqual([1, n, 4 * hidden]);
      const row = (captured.data as Float32Array).subarray((n - 1) * 4 * hidden, n * 4 * hidden);
      const feature = (t.outputs.feature!.data as Float32Array).subarray((n - 1) * hidden, n * hidden);
      expect(maxAbsDiff(row.subarray(0, hidden), feature)).toBe(0);
      const layers = [
        [c.target_hidden_layer2_input_last_first16, c.target_hidden_layer2_input_last_l2_norm],
        [c.target_hidden_layer4_input_last_first16, c.target_hidden_layer4_input_last_l2_norm],
        [c.target_hidden_layer5_input_last_first16, c.target_hidden_layer5_input_last_l2_norm],
      ] as const;
      layers.forEach(([first16, norm], i) => {
        const state = row.subarray((1 + i) * hidden, (2 + i) * hidden);
        expect(maxAbsDiff(state.subarray(0, 16), first16)).toBeLessThan(TOLERANCE);
        expect(normError(state, norm)).toBeLessThan(TOLERANCE);
      });
    }
  });

  it("fuses the captured states with the head's fc into the recorded input (fc over the ONNX target's states)", async () => {
    const hidden = target.entry.dims.hidden;
    const checkpoint = await Checkpoint.open(tinyCheckpointDirectory(TINY_MODEL_IDS.eagle3Head));
    try {
      // The first 16 rows of fc: the recorded outputs are the first 16 values.
      const fc = await checkpoint.matrix('fc.weight', hidden, 3 * hidden).read(0, 16);
      for (const c of vectors.cases) {
        const n = c.prompt_ids.length;
        const t = await runSequence(target.session, target.shape, c.prompt_ids);
        const row = (t.outputs.captured_feature!.data as Float32Array).subarray(
          ((n - 1) * 4 + 1) * hidden,
          n * 4 * hidden,
        );
        const fused = Array.from({ length: 16 }, (_, o) => {
          let s = 0;
          for (let i = 0; i < 3 * hidden; i++) s += fc[o * 3 * hidden + i]! * row[i]!;
          return s;
        });
        expect(maxAbsDiff(fused, c.fc_out_last_first16)).toBeLessThan(TOLERANCE);
      }
    } finally {
      await checkpoint.close();
    }
  });

  it('reproduces the head hidden state, top-5 draft logits and target ids, and the greedy chain', async () => {
    const hidden = head.entry.dims.hidden;
    const draftVocab = head.entry.draftVocab!.size;
    for (const c of vectors.cases) {
      const n = c.prompt_ids.length;
      const t = await runSequence(target.session, target.shape, c.prompt_ids);
      const all = t.outputs.captured_feature!.data as Float32Array;
      const states = new Float32Array(n * 3 * hidden);
      for (let r = 0; r < n; r++)
        states.set(all.subarray((r * 4 + 1) * hidden, (r + 1) * 4 * hidden), r * 3 * hidden);
      let step = await runSequence(head.session, head.shape, c.head_input_ids, {
        feature: new ort.Tensor('float32', states, [1, n, 3 * hidden]),
        draft_hidden: noRows(hidden),
        ...headCounts(5, n),
      });
      const out = (step.outputs.hidden!.data as Float32Array).subarray((n - 1) * hidden, n * hidden);
      expect(maxAbsDiff(out.subarray(0, 16), c.head_out_last_first16)).toBeLessThan(TOLERANCE);
      expect(normError(out, c.head_out_last_l2_norm)).toBeLessThan(TOLERANCE);
      const ids = Array.from(
        (step.outputs.top_ids!.data as BigInt64Array).subarray((n - 1) * 5, n * 5),
        Number,
      );
      expect(ids).toEqual(c.draft_top5_target_ids);
      const logits = step.outputs.logits!;
      expect(logits.dims).toEqual([1, n, draftVocab]);
      const data = logits.data as Float32Array;
      const row = data.subarray((n - 1) * draftVocab, n * draftVocab);
      expect(
        maxAbsDiff(
          c.draft_top5_draft_ids.map((d) => row[d]!),
          c.draft_top5_logits,
        ),
      ).toBeLessThan(TOLERANCE);
      expect(Math.abs(logSumExpRow(data, n - 1, draftVocab) - c.draft_logsumexp)).toBeLessThan(TOLERANCE);
      const logProbs = (step.outputs.top_log_probs!.data as Float32Array).subarray((n - 1) * 5, n * 5);
      expect(
        maxAbsDiff(
          logProbs,
          c.draft_top5_logits.map((l) => l - c.draft_logsumexp),
        ),
      ).toBeLessThan(TOLERANCE);

      const chain: number[] = [];
      let own = Float32Array.from(out);
      let row0 = n - 1;
      for (const [depth, expected] of c.greedy_chain_steps.entries()) {
        const h = (step.outputs.hidden!.data as Float32Array).subarray(row0 * hidden, (row0 + 1) * hidden);
        expect(maxAbsDiff(h.subarray(0, 16), expected.hidden_first16)).toBeLessThan(TOLERANCE);
        expect(normError(h, expected.hidden_l2_norm)).toBeLessThan(TOLERANCE);
        const token = Number((step.outputs.top_ids!.data as BigInt64Array)[row0 * 5]);
        expect(token).toBe(expected.top1_target_id);
        chain.push(token);
        own = Float32Array.from(h);
        if (depth === c.greedy_chain_steps.length - 1) break;
        step = await runDecoder(
          head.session,
          head.shape,
          [token],
          [n + depth],
          causalBias(n + depth, 1),
          step.cache,
          {
            feature: noRows(3 * hidden),
            draft_hidden: new ort.Tensor('float32', own, [1, 1, hidden]),
            ...headCounts(5, 1),
          },
        );
        row0 = 0;
      }
      expect(chain).toEqual(c.greedy_chain_target_ids);
    }
  });
});
