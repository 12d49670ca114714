import type { Manifest, ManifestModel } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { preferModels, selectModels } from '../src/index.js';

const model = (id: string, role: ManifestModel['role']) => ({ id, role }) as unknown as ManifestModel;
const manifest = {
  models: [model('target', 'target'), model('draft', 'draft'), model('draft-int8', 'draft')],
} as unknown as Manifest;
const order = (m: Manifest) => m.models.map((x) => x.id);

describe('preferModels', () => {
  it('moves the named models to the front of their role and keeps the rest in order', () => {
    expect(order(preferModels(manifest, [], 'm.json'))).toEqual(['target', 'draft', 'draft-int8']);
    expect(order(preferModels(manifest, ['draft-int8'], 'm.json'))).toEqual([
      'draft-int8',
      'target',
      'draft',
    ]);
  });

  it('names the manifest and its ids for an unknown id, and refuses two ids of one role', () => {
    expect(() => preferModels(manifest, ['draft-int4'], 'm.json')).toThrow(
      'option "models" must be an id of m.json: target, draft, draft-int8; got "draft-int4"',
    );
    expect(() => preferModels(manifest, ['draft', 'draft-int8'], 'm.json')).toThrow(
      '"draft" and "draft-int8" are both drafts',
    );
  });
});

describe('selectModels', () => {
  it('takes the models named, else fp32 weights on WASM, else the bundle order', () => {
    const model = (id: string, role: ManifestModel['role'], weightFormat: string) =>
      ({ id, role, weightFormat }) as unknown as ManifestModel;
    const manifest = {
      models: [
        model('target', 'target', 'fp32'),
        model('head-int8', 'eagle-head', 'int8'),
        model('head-fp32', 'eagle-head', 'fp32'),
        model('draft-int8', 'draft', 'int8'),
      ],
    } as unknown as Manifest;
    expect(order(selectModels(manifest, 'wasm'))).toEqual(['target', 'head-fp32', 'head-int8', 'draft-int8']);
    expect(order(selectModels(manifest, 'webgpu'))).toEqual(order(manifest));
    expect(order(selectModels(manifest, 'cpu'))).toEqual(order(manifest));
    expect(order(selectModels(manifest, 'wasm', ['head-int8']))).toEqual([
      'head-int8',
      'target',
      'head-fp32',
      'draft-int8',
    ]);
    expect(() => selectModels(manifest, 'wasm', ['head-fp16'])).toThrow(
      'option "models" must be an id of treespec.json: target, head-int8, head-fp32, draft-int8; got "head-fp16"',
    );
    expect(() => selectModels(manifest, 'wasm', ['head-int8', 'head-fp32'])).toThrow(
      'at most one model per role; "head-int8" and "head-fp32" are both eagle-heads',
    );
  });
});
