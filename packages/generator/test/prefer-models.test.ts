import type { Manifest, ManifestModel } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { preferModels } from '../src/prefer-models.js';

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
