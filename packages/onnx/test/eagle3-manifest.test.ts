import { ModelFormatError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import {
  CAPTURED_FEATURE_OUTPUT,
  CAUSAL_LM_IO,
  capturedFeatureLayout,
  checkModelPair,
  EAGLE3_HEAD_IO,
  eagle3HeadLayout,
  type ManifestModel,
  ModelMismatchError,
  validateManifest,
} from '../src/index.js';

const SHA = 'a'.repeat(64);
const DIMS = {
  vocab: 8192,
  hidden: 384,
  heads: 6,
  kvHeads: 2,
  headDim: 64,
  intermediate: 1024,
  maxContext: 2048,
};
const COMMON = {
  externalData: [],
  dtype: 'float32',
  weightFormat: 'fp32',
  rope: { type: 'default', theta: 10000 },
  rmsNormEps: 1e-5,
  tokenizer: { files: ['tokenizer.json'], sha256: SHA, bosTokenId: 1, eosTokenIds: [2], padTokenId: 0 },
  source: { architecture: 'LlamaForCausalLM', modelType: 'llama', checkpoint: 'x' },
} as const;
const kv = (layers: number) =>
  ({
    layout: 'bsnh',
    layers,
    kvHeads: 2,
    headDim: 64,
    dtype: 'float32',
    keysRotated: true,
    present: 'new-only',
  }) as const;
const LM_HEAD = { tensor: 'lm_head.weight', dtype: 'BF16', sha256: SHA };

function target(overrides: Partial<ManifestModel> = {}): ManifestModel {
  return {
    ...COMMON,
    id: 'target',
    role: 'target',
    graph: 'causal-lm',
    file: 'target.onnx',
    dims: { ...DIMS, layers: 8 },
    inputs: CAUSAL_LM_IO.inputs,
    outputs: { ...CAUSAL_LM_IO.outputs, capturedFeature: CAPTURED_FEATURE_OUTPUT },
    kvCache: kv(8),
    feature: 'final-norm',
    capturedLayers: [2, 4, 5],
    lmHead: LM_HEAD,
    ...overrides,
  };
}

function head(overrides: Partial<ManifestModel> = {}): ManifestModel {
  return {
    ...COMMON,
    id: 'eagle3-head',
    role: 'eagle3-head',
    graph: 'eagle3-head',
    file: 'eagle3-head.onnx',
    dims: { ...DIMS, layers: 1 },
    inputs: EAGLE3_HEAD_IO.inputs,
    outputs: EAGLE3_HEAD_IO.outputs,
    kvCache: kv(1),
    feature: 'captured-layers',
    capturedLayers: [2, 4, 5],
    draftVocab: { size: 2048, source: 'eagle3-d2t' },
    base: { id: 'target', lmHead: LM_HEAD },
    ...overrides,
  };
}

const manifest = (...models: ManifestModel[]) => ({
  format: 'treespec-models',
  version: 1,
  generator: 'test',
  models,
});

describe('EAGLE-3 fields of the manifest', () => {
  it('accepts a target with captured layers and an EAGLE-3 head, and lays out both for the runners', () => {
    expect(() => validateManifest(manifest(target(), head()))).not.toThrow();
    const layout = capturedFeatureLayout(target());
    expect(layout.featureSize).toBe(4 * 384);
    expect(layout.names.feature).toBe('captured_feature');
    const headLayout = eagle3HeadLayout(head());
    expect(headLayout.capturedSize).toBe(3 * 384);
    expect(headLayout.names.draftHidden).toBe('draft_hidden');
    expect(headLayout.draftTokenIds).toBeNull();
  });

  it('keeps the draft vocabulary’s target ids for the runners, and names a table that does not fit', () => {
    const targetIds = Array.from({ length: 2048 }, (_, d) => 4 * d + 1);
    const withIds = head({ draftVocab: { size: 2048, source: 'eagle3-d2t', targetIds } });
    expect(() => validateManifest(manifest(target(), withIds))).not.toThrow();
    expect(eagle3HeadLayout(withIds).draftTokenIds).toEqual(Int32Array.from(targetIds));
    const cases: Array<[number[], RegExp]> = [
      [targetIds.slice(1), /targetIds" must be an array of draftVocab\.size \(2048\) target ids; found 2047/],
      [
        targetIds.map((id, d) => (d === 7 ? 8192 : id)),
        /targetIds\[7\]" must be an integer in \[0, dims\.vocab 8192\); found 8192/,
      ],
      [
        targetIds.map((id, d) => (d === 9 ? 1 : id)),
        /targetIds\[9\]" must be a target id no other draft token has; found 1/,
      ],
    ];
    for (const [ids, message] of cases) {
      const model = head({ draftVocab: { size: 2048, source: 'eagle3-d2t', targetIds: ids } });
      expect(() => validateManifest(manifest(target(), model)), String(message)).toThrow(message);
    }
  });

  it('names the field that is wrong', () => {
    const cases: Array<[ManifestModel, RegExp]> = [
      [head({ capturedLayers: undefined }), /models\[1\]\.capturedLayers" must be an array; found undefined/],
      [head({ draftVocab: undefined }), /models\[1\]\.draftVocab" must be an object/],
      [
        head({ draftVocab: { size: 9000, source: 'eagle3-d2t' } }),
        /draftVocab\.size" must be at most dims\.vocab \(8192\); found 9000/,
      ],
      [head({ feature: 'final-norm' }), /models\[1\]\.feature" must be "captured-layers"/],
      [head({ graph: 'eagle-head' }), /models\[1\]\.graph" must be "eagle3-head"/],
      [
        target({ capturedLayers: [2, 8] }),
        /capturedLayers\[1\]" must be a layer index below dims\.layers \(8\); found 8/,
      ],
      [target({ capturedLayers: [4, 2] }), /capturedLayers" must be ascending layer indices/],
      [target({ outputs: CAUSAL_LM_IO.outputs }), /outputs\.capturedFeature" must be a non-empty string/],
      [
        head({ draftVocab: { size: 100, source: 'frequency' } }),
        /draftVocab\.corpus" must be an object; found undefined/,
      ],
    ];
    for (const [model, message] of cases) {
      const models = model.role === 'target' ? [model, head()] : [target(), model];
      expect(() => validateManifest(manifest(...models)), String(message)).toThrow(message);
    }
  });

  it('refuses at load time a target converted without the captured layers, or with other ones', () => {
    const plain = target({ capturedLayers: undefined, outputs: CAUSAL_LM_IO.outputs });
    const error = (() => {
      try {
        checkModelPair(plain, head(), { target: 'target.onnx', partner: 'eagle3-head.onnx' });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ModelMismatchError);
    expect((error as ModelMismatchError).property).toBe('captured layers');
    expect((error as Error).message).toContain(
      'captured layers is "[2, 4, 5]" in eagle3-head.onnx but "none (converted without --eagle3-layers)" in target.onnx',
    );
    expect(() => checkModelPair(target({ capturedLayers: [1, 4, 6] }), head())).toThrow(ModelMismatchError);
    expect(() => capturedFeatureLayout(plain)).toThrow(ModelFormatError);
    expect(() => capturedFeatureLayout(plain)).toThrow(
      /converted without them \(convert it with --eagle3-layers\)/,
    );
    expect(() => checkModelPair(target(), head({ dims: { ...DIMS, layers: 1, hidden: 512 } }))).toThrow(
      /hidden size/,
    );
  });
});
