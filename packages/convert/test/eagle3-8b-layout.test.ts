import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertEagleHead } from '../src/index.js';
import { type Eagle3Spec, writeEagle3Checkpoint, writeTargetForHead } from './helpers/random-eagle3.js';

/**
 * The shapes of a published 8B-class EAGLE-3 head (SafeAILab's EAGLE3-LLaMA3.1-Instruct-8B:
 * hidden 4096, 32/8 heads of 128, MLP 14336, vocabulary 128256, draft vocabulary 32000) for a
 * 32-layer target. Weights are a repeated random block: the test is about the layout at real sizes
 * (about 0.85 GB of head and 1.05 GB of target bf16 written, the target's embedding tied to its
 * lm_head; 3.8 GB of fp32 ONNX converted), not about values, and does not load the result into
 * ONNX Runtime.
 */
const LLAMA_8B_HEAD: Eagle3Spec = {
  vocab: 128256,
  draftVocab: 32000,
  hidden: 4096,
  intermediate: 14336,
  heads: 32,
  kvHeads: 8,
  headDim: 128,
  targetLayers: 32,
  seed: 8,
};

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-eagle3-8b-'));
  await writeEagle3Checkpoint(join(root, 'head'), LLAMA_8B_HEAD);
  await writeTargetForHead(join(root, 'target'), LLAMA_8B_HEAD);
}, 300_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('an 8B-class EAGLE-3 head in the published layout', () => {
  it('converts with the manifest of its real shapes: captured layers 2, 16, 29 and a 32000-token draft vocabulary', async () => {
    const out = join(root, 'out');
    const { model, bytes } = await convertEagleHead({
      checkpoint: join(root, 'head'),
      target: join(root, 'target'),
      out,
      maxContext: 2048,
    });
    expect(model).toMatchObject({
      role: 'eagle3-head',
      graph: 'eagle3-head',
      dims: {
        vocab: 128256,
        hidden: 4096,
        layers: 1,
        heads: 32,
        kvHeads: 8,
        headDim: 128,
        intermediate: 14336,
        maxContext: 2048,
      },
      capturedLayers: [2, 16, 29],
      draftVocab: { size: 32000, source: 'eagle3-d2t' },
      rope: { type: 'default', theta: 500000 },
      inputs: { feature: 'feature', draftHidden: 'draft_hidden' },
    });
    // fp32: the target's embedding, fc (3H -> H), the 2H-wide q/k/v, o, the MLP and the draft lm_head.
    const h = 4096;
    const weights = 128256 * h + 3 * h * h + (h + 2 * 1024) * 2 * h + h * h + 3 * 14336 * h + 32000 * h;
    expect(bytes).toBeGreaterThan(weights * 4);
    expect(bytes).toBeLessThan(weights * 4 * 1.01);
    const data = await stat(join(out, model.externalData[0]!));
    expect(data.size).toBeGreaterThan(weights * 4);
    const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
    expect(manifest.models).toHaveLength(1);
  }, 600_000);
});
