import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, convertEagleHead, parseDecoderConfig } from '../src/index.js';
import {
  causalBias,
  emptyCache,
  headCounts,
  maxAbsDiff,
  openSession,
  runDecoder,
} from '../src/testing/index.js';
import { variantConfig, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { headTarget, writeHeadCheckpoint } from './helpers/random-head.js';
import { referenceEagleHead } from './helpers/reference-forward.js';

/** fp32 ONNX vs float64 reference on identical weights; see variants.test.ts for the reasoning. */
const TOLERANCE = 2e-4;

const TARGET = headTarget(21);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-head-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('converted random EAGLE heads match a TypeScript reference forward', () => {
  for (const [name, target, ownEmbedding] of [
    ['with the target embedding and an untied lm_head', TARGET, false],
    ['with its own embedding copy and a tied target', { ...TARGET, tie: true, seed: 22 }, true],
  ] as const) {
    it(`matches ${name}, for a tree of draft rows after committed rows, scoring only the last score_rows rows`, async () => {
      const dir = join(root, name.replace(/\W+/g, '-'));
      const targetWeights = await writeVariantCheckpoint(join(dir, 'target'), target);
      const embedding = targetWeights.get('model.embed_tokens.weight')!;
      const lmHead = target.tie ? embedding : targetWeights.get('lm_head.weight')!;
      const head = await writeHeadCheckpoint(
        join(dir, 'head'),
        target,
        99,
        ownEmbedding ? embedding : undefined,
      );
      const out = join(dir, 'onnx');
      await convertCausalLM({ checkpoint: join(dir, 'target'), out });
      const result = await convertEagleHead({
        checkpoint: join(dir, 'head'),
        target: join(dir, 'target'),
        out,
      });
      expect(result.model.base!.id).toBe('target');
      const session = await openSession(join(out, 'eagle-head.onnx'));
      const config = parseDecoderConfig(variantConfig(target), 'config.json');
      const dims = { ...config, layers: 1, eps: 1e-6, tie: target.tie };

      const tokens = [4, 9, 33, 71, 12, 50, 7];
      const features = Float32Array.from({ length: tokens.length * 32 }, (_, i) => Math.sin(i * 0.37) * 2);
      const parents = [-1, -1, -1, -1, 3, 3, 4];
      const positions = [0, 1, 2, 3, 4, 4, 5];
      const visible = (i: number, j: number) => {
        if (j < 4) return i >= j;
        for (let a = i; a >= 4 && a !== -1; a = parents[a]!) if (a === j) return true;
        return false;
      };
      const ref = referenceEagleHead(head, lmHead, embedding, dims, tokens, features, positions, visible);

      const shape = { layers: 1, kvHeads: 2, headDim: 8 };
      const commitRows = (scored: number) =>
        runDecoder(
          session,
          shape,
          tokens.slice(0, 4),
          positions.slice(0, 4),
          causalBias(0, 4),
          emptyCache(1),
          {
            feature: new ort.Tensor('float32', features.slice(0, 4 * 32), [1, 4, 32]),
            ...headCounts(3, scored),
          },
        );
      const commit = await commitRows(4);
      const bias = new Float32Array(3 * 7);
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 7; j++) bias[i * 7 + j] = visible(4 + i, j) ? 0 : -3.4e38;
      const tree = await runDecoder(session, shape, tokens.slice(4), positions.slice(4), bias, commit.cache, {
        feature: new ort.Tensor('float32', features.slice(4 * 32), [1, 3, 32]),
        ...headCounts(3, 3),
      });
      const hidden = new Float32Array([
        ...(commit.outputs.hidden!.data as Float32Array),
        ...(tree.outputs.hidden!.data as Float32Array),
      ]);
      const logits = new Float32Array([
        ...(commit.outputs.logits!.data as Float32Array),
        ...(tree.outputs.logits!.data as Float32Array),
      ]);
      expect(maxAbsDiff(hidden, ref.hidden)).toBeLessThan(TOLERANCE);
      expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(TOLERANCE);
      const topIds = tree.outputs.top_ids!.data as BigInt64Array;
      for (let r = 0; r < 3; r++) {
        const row = Array.from(ref.logits.subarray((4 + r) * 80, (5 + r) * 80));
        const best = row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
        expect(Array.from(topIds.subarray(r * 3, r * 3 + 3), Number)).toEqual(
          best.slice(0, 3).map((b) => b[1]),
        );
      }
      // Scoring the newest committed row alone: its outputs as before, the cache of every row.
      const newest = await commitRows(1);
      expect(newest.outputs.hidden!.dims).toEqual([1, 1, 32]);
      expect(newest.outputs.top_ids!.dims).toEqual([1, 1, 3]);
      expect(
        maxAbsDiff(newest.outputs.hidden!.data as Float32Array, ref.hidden.subarray(3 * 32, 4 * 32)),
      ).toBeLessThan(TOLERANCE);
      expect(
        maxAbsDiff(newest.outputs.logits!.data as Float32Array, ref.logits.subarray(3 * 80, 4 * 80)),
      ).toBeLessThan(TOLERANCE);
      expect(newest.outputs.top_ids!.data).toEqual(
        (commit.outputs.top_ids!.data as BigInt64Array).subarray(9, 12),
      );
      expect(newest.cache.keys[0]).toEqual(commit.cache.keys[0]);
      expect(newest.cache.values[0]).toEqual(commit.cache.values[0]);
      await session.release();
    });
  }
});
