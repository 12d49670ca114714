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
import { linearOutputRows } from './helpers/kernel-rows.js';
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
      const treeRows = (scored: number) =>
        runDecoder(session, shape, tokens.slice(4), positions.slice(4), bias, commit.cache, {
          feature: new ort.Tensor('float32', features.slice(4 * 32), [1, 3, 32]),
          ...headCounts(3, scored),
        });
      const tree = await treeRows(3);
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
      /** A call scoring its last `count` rows against `full` (every row scored; `first` is its first row in the reference). */
      const expectScoredRows = (
        call: Awaited<ReturnType<typeof runDecoder>>,
        full: Awaited<ReturnType<typeof runDecoder>>,
        first: number,
        count: number,
      ) => {
        const rows = full.outputs.hidden!.dims[1]!;
        const from = first + rows - count;
        expect(call.outputs.hidden!.dims).toEqual([1, count, 32]);
        expect(
          maxAbsDiff(
            call.outputs.hidden!.data as Float32Array,
            ref.hidden.subarray(from * 32, (from + count) * 32),
          ),
        ).toBeLessThan(TOLERANCE);
        expect(
          maxAbsDiff(
            call.outputs.logits!.data as Float32Array,
            ref.logits.subarray(from * 80, (from + count) * 80),
          ),
        ).toBeLessThan(TOLERANCE);
        expect(call.outputs.top_ids!.data).toEqual(
          (full.outputs.top_ids!.data as BigInt64Array).subarray((rows - count) * 3),
        );
        expect(call.cache.keys[0]).toEqual(full.cache.keys[0]);
        expect(call.cache.values[0]).toEqual(full.cache.values[0]);
      };
      // Scoring the newest committed row alone, and the tree's last two rows: only they attend
      // (under their rows of the tree's bias), and every row's key and value still enter the cache.
      expectScoredRows(await commitRows(1), commit, 0, 1);
      expectScoredRows(await treeRows(2), tree, 4, 2);
      await session.release();
    });
  }
});

describe('a converted EAGLE head catching up on committed rows', () => {
  it('projects every row into the cache, and attends and runs the MLP for the scored rows only', async () => {
    const dir = join(root, 'scored-rows');
    await writeVariantCheckpoint(join(dir, 'target'), TARGET);
    await writeHeadCheckpoint(join(dir, 'head'), TARGET, 98);
    const out = join(dir, 'onnx');
    await convertCausalLM({ checkpoint: join(dir, 'target'), out });
    await convertEagleHead({ checkpoint: join(dir, 'head'), target: join(dir, 'target'), out });
    const rows = 4;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.of(4n, 9n, 33n, 71n), [1, rows]),
      position_ids: new ort.Tensor('int64', BigInt64Array.of(0n, 1n, 2n, 3n), [1, rows]),
      attention_bias: new ort.Tensor('float32', causalBias(0, rows), [1, 1, rows, rows]),
      feature: new ort.Tensor('float32', new Float32Array(rows * 32).fill(0.5), [1, rows, 32]),
      'past_key.0': new ort.Tensor('float32', new Float32Array(0), [1, 0, 2, 8]),
      'past_value.0': new ort.Tensor('float32', new Float32Array(0), [1, 0, 2, 8]),
      ...headCounts(3, 1),
    };
    // fc and the fused q/k/v projection see the four rows; the output projection, the MLP's two
    // and the lm_head see the one scored row.
    expect(await linearOutputRows(join(out, 'eagle-head.onnx'), feeds, join(dir, 'profile'))).toEqual([
      1, 1, 1, 1, 4, 4,
    ]);
  });
});

describe('the positions an EAGLE head covers', () => {
  it('are its target’s, not the shorter window its own config was trained on', async () => {
    const dir = join(root, 'positions');
    await writeVariantCheckpoint(join(dir, 'target'), TARGET);
    await writeHeadCheckpoint(join(dir, 'head'), { ...TARGET, maxPositions: 16 }, 5);
    const out = join(dir, 'onnx');
    await convertCausalLM({ checkpoint: join(dir, 'target'), out, maxContext: 48 });
    const head = { checkpoint: join(dir, 'head'), target: join(dir, 'target'), out };
    // By default the positions of the target in the bundle; at most the target config's 256.
    expect((await convertEagleHead(head)).model.dims.maxContext).toBe(48);
    expect((await convertEagleHead({ ...head, id: 'wide', maxContext: 256 })).model.dims.maxContext).toBe(
      256,
    );
    await expect(convertEagleHead({ ...head, id: 'wider', maxContext: 257 })).rejects.toThrow(
      /option "maxContext" must be an integer in \[1, 256\]/,
    );
  });
});
