import { readFileSync } from 'node:fs';
import {
  causalBias,
  emptyCache,
  type KvCache,
  maxAbsDiff,
  runDecoder,
  runSequence,
} from '@treespec/convert/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, tinyTestVectorsPath } from '../src/node.js';
import { type LoadedModel, loadTinyModel } from './helpers/bundle.js';

/** Incremental and full runs differ only by float32 summation order (measured < 3e-5 on logits ~10). */
const TOLERANCE = 2e-4;

describe('KV cache of the converted tiny models', () => {
  const c = (
    JSON.parse(readFileSync(tinyTestVectorsPath(TINY_MODEL_IDS.target), 'utf8')) as {
      cases: { prompt_ids: number[]; greedy_ids: number[] }[];
    }
  ).cases[0]!;
  const sequence = [...c.prompt_ids, ...c.greedy_ids];
  let models: LoadedModel[];
  beforeAll(async () => {
    models = [await loadTinyModel(TINY_MODEL_IDS.target), await loadTinyModel(TINY_MODEL_IDS.draft)];
  });
  afterAll(async () => {
    for (const m of models) await m.session.release();
  });

  it('gives the same logits, features and cache entries decoding in chunks as recomputing the whole sequence', async () => {
    for (const model of models) {
      const { vocab, hidden } = model.entry.dims;
      const n = sequence.length;
      const full = await runSequence(model.session, model.shape, sequence);
      let cache: KvCache = emptyCache(model.shape.layers);
      for (const chunk of [10, 1, 1, 5, 3, 1, 20, 1, 23]) {
        const at = cache.length;
        const ids = sequence.slice(at, at + chunk);
        const step = await runDecoder(
          model.session,
          model.shape,
          ids,
          ids.map((_, i) => at + i),
          causalBias(at, chunk),
          cache,
        );
        const logits = (full.outputs.logits!.data as Float32Array).subarray(at * vocab, (at + chunk) * vocab);
        const features = (full.outputs.feature!.data as Float32Array).subarray(
          at * hidden,
          (at + chunk) * hidden,
        );
        expect(
          maxAbsDiff(step.outputs.logits!.data as Float32Array, logits),
          `${model.entry.id} at ${at}`,
        ).toBeLessThan(TOLERANCE);
        expect(maxAbsDiff(step.outputs.feature!.data as Float32Array, features)).toBeLessThan(TOLERANCE);
        expect(step.outputs['present_key.0']!.dims).toEqual([
          1,
          chunk,
          model.shape.kvHeads,
          model.shape.headDim,
        ]);
        cache = step.cache;
      }
      expect(cache.length).toBe(n);
      for (let l = 0; l < model.shape.layers; l++) {
        expect(maxAbsDiff(cache.keys[l]!, full.cache.keys[l]!)).toBeLessThan(TOLERANCE);
        expect(maxAbsDiff(cache.values[l]!, full.cache.values[l]!)).toBeLessThan(TOLERANCE);
      }
    }
  });
});
