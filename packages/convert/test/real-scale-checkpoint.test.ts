import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, convertEagleHead, SafetensorsFile, type TokenFrequencies } from '../src/index.js';
import { headCounts, openSession, runSequence } from '../src/testing/index.js';
import { type VariantSpec, variantShapes } from './helpers/random-checkpoint.js';
import {
  LLAMA_3_2_1B,
  parameterCount,
  QWEN3_0_6B,
  writeStreamedCheckpoint,
  writeStreamedHeadCheckpoint,
  writeSyntheticFrequencies,
} from './helpers/real-scale.js';

/**
 * The real-scale checkpoint writer behind bench/real-scale.ts. Full-size models are the
 * benchmark's job; here each shape is cut to one layer and the tiny tokenizer's 8192 tokens, with
 * every per-layer shape (hidden size, heads, head width, MLP, q/k norms) as published.
 */
const CUT = { layers: 1, vocab: 8192 } as const;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-real-scale-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('real-scale model shapes', () => {
  it('hold the published parameter counts: Llama-3.2-1B 1,235,814,400 and Qwen3-0.6B 596,049,920 (tied embeddings)', () => {
    expect(parameterCount(LLAMA_3_2_1B)).toBe(1_235_814_400);
    expect(parameterCount(QWEN3_0_6B)).toBe(596_049_920);
  });
});

describe('writeStreamedCheckpoint at one layer of the real shapes', () => {
  for (const [name, full] of [
    ['Llama-3.2-1B', LLAMA_3_2_1B],
    ['Qwen3-0.6B', QWEN3_0_6B],
  ] as const) {
    it(`writes ${name}'s tensors, which convert to int4 and decode three tokens with finite logits`, async () => {
      const spec: VariantSpec = { ...full, ...CUT };
      const dir = join(root, name);
      await writeStreamedCheckpoint(join(dir, 'hf'), spec);
      const file = await SafetensorsFile.open(join(dir, 'hf', 'model.safetensors'));
      const written = [...file.tensors.values()].map((t) => [t.name, t.dtype, [...t.shape]]);
      await file.close();
      expect(written).toEqual(variantShapes(spec).map((t) => [t.name, 'BF16', t.shape]));

      const { model } = await convertCausalLM({
        checkpoint: join(dir, 'hf'),
        out: join(dir, 'onnx'),
        weightFormat: 'int4',
        maxContext: 512,
      });
      expect(model.weightFormat).toBe('int4');
      expect(model.dims).toMatchObject({
        vocab: 8192,
        hidden: spec.hidden,
        layers: 1,
        heads: spec.heads,
        kvHeads: spec.kvHeads,
        headDim: spec.headDim,
        intermediate: spec.intermediate,
      });
      const session = await openSession(join(dir, 'onnx', model.file));
      const shape = { layers: 1, kvHeads: spec.kvHeads, headDim: spec.headDim };
      const { outputs, cache } = await runSequence(session, shape, [1, 400, 8000]);
      await session.release();
      expect(outputs.logits!.dims).toEqual([1, 3, 8192]);
      expect((outputs.logits!.data as Float32Array).every(Number.isFinite)).toBe(true);
      expect(cache.keys[0]).toHaveLength(3 * spec.kvHeads * spec.headDim);
    }, 240_000);
  }
});

describe('writeStreamedHeadCheckpoint and writeSyntheticFrequencies', () => {
  it('give an EAGLE-2 head for Qwen3-0.6B shapes that converts with a 4096-token FR-Spec vocabulary and drafts only from it', async () => {
    const spec: VariantSpec = { ...QWEN3_0_6B, ...CUT };
    const dir = join(root, 'head');
    await writeStreamedCheckpoint(join(dir, 'target'), spec);
    await writeStreamedHeadCheckpoint(join(dir, 'head'), spec, 7);
    const frequencies = join(dir, 'frequencies.json');
    await writeSyntheticFrequencies(frequencies, join(dir, 'target'), spec.vocab, 11);
    const counts = (JSON.parse(await readFile(frequencies, 'utf8')) as TokenFrequencies).counts;
    const kept = new Set(
      counts
        .map((count, id) => ({ count, id }))
        .sort((a, b) => b.count - a.count || a.id - b.id)
        .slice(0, 4096)
        .map((t) => t.id),
    );

    const { model } = await convertEagleHead({
      checkpoint: join(dir, 'head'),
      target: join(dir, 'target'),
      out: join(dir, 'onnx'),
      weightFormat: 'int4',
      maxContext: 512,
      draftVocab: { size: 4096, corpus: frequencies },
    });
    expect(model.draftVocab).toMatchObject({ size: 4096, source: 'frequency' });
    const session = await openSession(join(dir, 'onnx', model.file));
    const n = 2;
    const feature = Float32Array.from({ length: n * spec.hidden }, (_, i) => Math.sin(i));
    const { outputs } = await runSequence(
      session,
      { layers: 1, kvHeads: spec.kvHeads, headDim: spec.headDim },
      [5, 6],
      {
        feature: new ort.Tensor('float32', feature, [1, n, spec.hidden]),
        ...headCounts(8, n),
      },
    );
    await session.release();
    const ids = [...(outputs.top_ids!.data as BigInt64Array)].map(Number);
    expect(ids).toHaveLength(n * 8);
    expect(ids.filter((id) => !kept.has(id))).toEqual([]);
  }, 240_000);
});
