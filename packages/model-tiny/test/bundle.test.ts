import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkModelPair, findModel, MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { TINY_MODEL_IDS, tinyDevPromptsPath, tinyModelDirectory, tinyTestVectorsPath } from '../src/node.js';

describe('the embedded tiny bundle', () => {
  const dir = tinyModelDirectory();
  const path = join(dir, MANIFEST_FILE);
  const manifest = parseManifest(readFileSync(path, 'utf8'), path);

  it('lists the target, the EAGLE-2 head and the draft LM with their files present', () => {
    expect(manifest.models.map((m) => [m.id, m.role])).toEqual([
      ['target', 'target'],
      ['eagle-head', 'eagle-head'],
      ['draft', 'draft'],
    ]);
    for (const m of manifest.models) {
      for (const f of [m.file, ...m.externalData, ...m.tokenizer.files])
        expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const target = findModel(manifest, TINY_MODEL_IDS.target, path);
    expect(target.dims).toEqual({
      vocab: 8192,
      hidden: 384,
      layers: 8,
      heads: 6,
      kvHeads: 2,
      headDim: 64,
      intermediate: 1024,
      maxContext: 2048,
    });
    expect(target.tokenizer).toMatchObject({ bosTokenId: 1, eosTokenIds: [2], padTokenId: 0 });
  });

  it('pairs the head and the draft with the target', () => {
    const target = findModel(manifest, TINY_MODEL_IDS.target);
    const head = findModel(manifest, TINY_MODEL_IDS.eagleHead);
    expect(head.base).toEqual({ id: 'target', lmHead: target.lmHead });
    expect(() => checkModelPair(target, head)).not.toThrow();
    expect(() => checkModelPair(target, findModel(manifest, TINY_MODEL_IDS.draft))).not.toThrow();
  });

  it('points at the test vectors and the development prompts', () => {
    expect(existsSync(tinyTestVectorsPath(TINY_MODEL_IDS.eagleHead))).toBe(true);
    const prompts = readFileSync(tinyDevPromptsPath(), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(prompts).toHaveLength(39);
    expect(Object.keys(prompts[0])).toEqual(['id', 'prompt', 'kind', 'source']);
  });
});
