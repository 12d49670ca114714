import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkModelPair, findModel, MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import {
  TINY_MODEL_IDS,
  tinyDevPrompts,
  tinyDevPromptsPath,
  tinyModelDirectory,
  tinyTestVectorsPath,
} from '../src/node.js';

describe('the embedded tiny bundle', () => {
  const dir = tinyModelDirectory();
  const path = join(dir, MANIFEST_FILE);
  const manifest = parseManifest(readFileSync(path, 'utf8'), path);

  it('lists the target, the EAGLE-2 heads, the EAGLE-3 head and the int8 and fp32 draft LMs with their files present', () => {
    // Loaders that take the first model of a role get the int8 head with context tokens and the int8 draft.
    expect(manifest.models.map((m) => [m.id, m.role, m.weightFormat])).toEqual([
      ['target', 'target', 'fp32'],
      ['eagle-head-context', 'eagle-head', 'int8'],
      ['eagle-head', 'eagle-head', 'int8'],
      ['eagle-head-fp32', 'eagle-head', 'fp32'],
      ['eagle3-head', 'eagle3-head', 'fp32'],
      ['draft-int8', 'draft', 'int8'],
      ['draft', 'draft', 'fp32'],
    ]);
    expect(Object.values(TINY_MODEL_IDS)).toEqual(manifest.models.map((m) => m.id));
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

  it('pairs the heads and the drafts with the target', () => {
    const target = findModel(manifest, TINY_MODEL_IDS.target);
    for (const id of [
      TINY_MODEL_IDS.eagleHeadContext,
      TINY_MODEL_IDS.eagleHead,
      TINY_MODEL_IDS.eagleHeadFp32,
    ]) {
      const head = findModel(manifest, id);
      expect(head.base).toEqual({ id: 'target', lmHead: target.lmHead });
      expect(() => checkModelPair(target, head)).not.toThrow();
    }
    const eagle3 = findModel(manifest, TINY_MODEL_IDS.eagle3Head);
    expect(eagle3.base).toEqual({ id: 'target', lmHead: target.lmHead });
    expect(() => checkModelPair(target, eagle3)).not.toThrow();
    for (const id of [TINY_MODEL_IDS.draft, TINY_MODEL_IDS.draftInt8])
      expect(() => checkModelPair(target, findModel(manifest, id))).not.toThrow();
  });

  it('points at the test vectors and the development prompts', () => {
    expect(existsSync(tinyTestVectorsPath(TINY_MODEL_IDS.eagleHead))).toBe(true);
    expect(existsSync(tinyDevPromptsPath())).toBe(true);
    const prompts = tinyDevPrompts();
    expect(prompts).toHaveLength(39);
    expect(Object.keys(prompts[0])).toEqual(['id', 'prompt', 'kind', 'source']);
  });
});
