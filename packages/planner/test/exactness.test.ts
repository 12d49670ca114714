import type { Manifest, ManifestModel } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { plan } from '../src/index.js';
import { tinyManifest } from './tiny.js';

/** The tiny manifest with its target changed by `edit`. */
async function withTarget(edit: Partial<ManifestModel>): Promise<Manifest> {
  const manifest = await tinyManifest();
  return { ...manifest, models: manifest.models.map((m) => (m.id === 'target' ? { ...m, ...edit } : m)) };
}

const INT8 = {
  weightFormat: 'int8',
  quantization: {
    op: 'com.microsoft.MatMulNBits',
    bits: 8,
    blockSize: 32,
    symmetric: true,
    accuracyLevel: 4,
  },
} as const;

describe('warning about a target whose speculative output may differ from its plain decoding', () => {
  it('warns for a quantized target whose attention sums in float32, and for one with in-place or fused attention', async () => {
    for (const edit of [
      INT8,
      { ...INT8, attentionPrecision: 'float32' as const },
      { ...INT8, attention: 'in-place' as const },
      { ...INT8, attention: 'fused' as const },
    ]) {
      const { warnings } = plan(await withTarget(edit));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /model "target" quantizes its activations \(int8\) and its .*attention.* sums in float32/,
      );
    }
  });

  it('warns for a w8a8 target (activations quantized per row) whose attention sums in float32', async () => {
    for (const edit of [
      { weightFormat: 'w8a8' as const },
      { weightFormat: 'w8a8' as const, attention: 'in-place' as const },
    ]) {
      const { warnings } = plan(await withTarget(edit));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/model "target" quantizes its activations \(w8a8\)/);
    }
  });

  it('stays quiet for float32 targets, float64 sums, and MatMulNBits in float32 arithmetic', async () => {
    for (const edit of [
      {},
      { ...INT8, attentionPrecision: 'float64' as const },
      { weightFormat: 'w8a8' as const, attentionPrecision: 'float64' as const },
      { ...INT8, quantization: { ...INT8.quantization, accuracyLevel: 1 } },
    ]) {
      expect(plan(await withTarget(edit)).warnings).toEqual([]);
    }
  });
});
