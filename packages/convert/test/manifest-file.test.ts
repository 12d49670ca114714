import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseManifest } from '@treespec/onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { convertCausalLM } from '../src/index.js';
import { ONE_LAYER_LLAMA, writeVariantCheckpoint } from './helpers/random-checkpoint.js';

const SPEC = { ...ONE_LAYER_LLAMA, seed: 5 };

let dir: string;
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('converting into a bundle that has a manifest', () => {
  it('replaces a model converted again where it stands, and keeps the budgets tune stored', async () => {
    dir = await mkdtemp(join(tmpdir(), 'treespec-manifest-'));
    const checkpoint = join(dir, 'hf');
    await writeVariantCheckpoint(checkpoint, SPEC);
    const out = join(dir, 'bundle');
    await convertCausalLM({ checkpoint, out, id: 'target' });
    await convertCausalLM({ checkpoint, out, id: 'draft', role: 'draft' });
    await convertCausalLM({ checkpoint, out, id: 'draft-int8', role: 'draft', weightFormat: 'int8' });
    const file = join(out, 'treespec.json');
    const tuning = { cpu: { draftTree: { topK: 2, frontier: 1, depth: 3, totalTokens: 6 } } };
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), tuning }));
    // The first draft model of the bundle, converted again: still the first, so still the default.
    await convertCausalLM({ checkpoint, out, id: 'draft', role: 'draft', weightFormat: 'fp16' });
    const manifest = parseManifest(await readFile(file, 'utf8'));
    expect(manifest.models.map((m) => m.id)).toEqual(['target', 'draft', 'draft-int8']);
    expect(manifest.models[1]!.weightFormat).toBe('fp16');
    expect(manifest.tuning).toEqual(tuning);
  });
});
