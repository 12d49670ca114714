import { ModelFormatError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import {
  CAPTURED_ROW_OUTPUTS,
  CAUSAL_LM_IO,
  capturedFeatureLayout,
  causalLmLayout,
  checkModelPair,
  DRAFT_LM_IO,
  DRAFT_LM_SUMMARY,
  EAGLE_HEAD_CONTEXT_IO,
  EAGLE_HEAD_IO,
  eagleHeadLayout,
  findModel,
  HEAD_STEP_OUTPUTS,
  layerName,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestModel,
  ModelMismatchError,
  PLAIN_CACHE_OUTPUTS,
  PRESENT_ROWS_OUTPUT,
  parseManifest,
  TARGET_IO,
  validateManifest,
} from '../src/index.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const INT8 = {
  op: 'com.microsoft.MatMulNBits',
  bits: 8,
  blockSize: 32,
  symmetric: true,
  accuracyLevel: 4,
} as const;
const LM_HEAD = { tensor: 'lm_head.weight', dtype: 'BF16', sha256: SHA_A };

function causalLM(overrides: Partial<ManifestModel> = {}): ManifestModel {
  return {
    id: 'target',
    role: 'target',
    graph: 'causal-lm',
    file: 'target.onnx',
    externalData: ['target.onnx.data'],
    dtype: 'float32',
    weightFormat: 'fp32',
    dims: {
      vocab: 8192,
      hidden: 384,
      layers: 8,
      heads: 6,
      kvHeads: 2,
      headDim: 64,
      intermediate: 1024,
      maxContext: 2048,
    },
    inputs: CAUSAL_LM_IO.inputs,
    outputs: CAUSAL_LM_IO.outputs,
    kvCache: {
      layout: 'bsnh',
      layers: 8,
      kvHeads: 2,
      headDim: 64,
      dtype: 'float32',
      keysRotated: true,
      present: 'new-only',
    },
    rope: { type: 'default', theta: 10000 },
    rmsNormEps: 1e-5,
    feature: 'final-norm',
    tokenizer: { files: ['tokenizer.json'], sha256: SHA_A, bosTokenId: 1, eosTokenIds: [2], padTokenId: 0 },
    source: { architecture: 'LlamaForCausalLM', modelType: 'llama', checkpoint: 'treespec-tiny' },
    lmHead: LM_HEAD,
    ...overrides,
  };
}

function head(overrides: Partial<ManifestModel> = {}): ManifestModel {
  return causalLM({
    id: 'eagle-head',
    role: 'eagle-head',
    graph: 'eagle-head',
    file: 'eagle-head.onnx',
    externalData: ['eagle-head.onnx.data'],
    dims: {
      vocab: 8192,
      hidden: 384,
      layers: 1,
      heads: 6,
      kvHeads: 2,
      headDim: 64,
      intermediate: 1024,
      maxContext: 2048,
    },
    inputs: EAGLE_HEAD_IO.inputs,
    outputs: EAGLE_HEAD_IO.outputs,
    kvCache: {
      layout: 'bsnh',
      layers: 1,
      kvHeads: 2,
      headDim: 64,
      dtype: 'float32',
      keysRotated: true,
      present: 'new-only',
    },
    lmHead: undefined,
    base: { id: 'target', lmHead: LM_HEAD },
    ...overrides,
  });
}

function manifest(...models: ManifestModel[]): Manifest {
  return { format: 'treespec-models', version: 1, generator: 'test', models };
}

function errorOf(fn: () => unknown): ModelFormatError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ModelFormatError) return error;
    throw error;
  }
  throw new Error('expected a ModelFormatError');
}

describe('parseManifest / validateManifest', () => {
  it('accepts a well-formed manifest and returns it unchanged', () => {
    const m = manifest(causalLM(), head());
    expect(parseManifest(JSON.stringify(m), 'dir/treespec.json')).toEqual(m);
  });

  it('accepts int8 and int4 weights with or without their quantization details', () => {
    const m = manifest(
      causalLM({ weightFormat: 'int4' }),
      head({ weightFormat: 'int8', quantization: INT8 }),
      head({ id: 'head-4', weightFormat: 'int4', quantization: { ...INT8, bits: 4, symmetric: false } }),
    );
    expect(parseManifest(JSON.stringify(m))).toEqual(m);
  });

  it('accepts per-device tuned budgets and names the field of a bad one', () => {
    const tuned = {
      ...manifest(causalLM()),
      tuning: { cpu: { tree: { topK: 3, frontier: 1, depth: 0, totalTokens: 6 } }, wasm: { draftTree: {} } },
    };
    expect(validateManifest(tuned)).toEqual(tuned);
    const bad = (tuning: unknown) =>
      errorOf(() => validateManifest({ ...manifest(causalLM()), tuning })).message;
    expect(bad({ tpu: {} })).toBe(
      'treespec.json: field "tuning.tpu" must be one of "cpu", "wasm", "webgpu", "cuda"; found "tpu"',
    );
    expect(bad({ cpu: { tree: { totalTokens: 1 } } })).toBe(
      'treespec.json: field "tuning.cpu.tree.totalTokens" must be an integer >= 2 (the root counts); found 1',
    );
    expect(bad({ cpu: { tree: { depth: -1 } } })).toBe(
      'treespec.json: field "tuning.cpu.tree.depth" must be an integer >= 0; found -1',
    );
    expect(bad({ cuda: { tree: { width: 2 } } })).toMatch(
      /field "tuning\.cuda\.tree\.width" must be one of "topK"/,
    );
  });

  it('accepts a head converted before score_rows existed, and rejects a score_rows name that is not a string', () => {
    const { scoreRows: _, ...older } = EAGLE_HEAD_IO.inputs;
    const m = manifest(causalLM(), head({ inputs: older }));
    expect(m.version).toBe(1);
    expect(validateManifest(m)).toEqual(m);
    const current = { ...manifest(causalLM(), head()), version: MANIFEST_VERSION };
    expect(validateManifest(current)).toEqual(current);
    expect(eagleHeadLayout(m.models[1]!).names.scoreRows).toBeNull();
    expect(eagleHeadLayout(head()).names.scoreRows).toBe('score_rows');
    const bad = errorOf(() =>
      validateManifest(
        manifest(causalLM(), head({ inputs: { ...older, scoreRows: 3 as unknown as string } })),
      ),
    );
    expect(bad.message).toContain('field "models[1].inputs.scoreRows" must be a non-empty string; found 3');
  });

  it('accepts score_rows on a draft LM, and on a target from manifest version 3 on', () => {
    const draft = causalLM({ id: 'draft', role: 'draft', inputs: DRAFT_LM_IO.inputs });
    expect(validateManifest(manifest(causalLM(), draft))).toEqual(manifest(causalLM(), draft));
    const { sampleUniforms: _u, sampleTemperature: _t, ...scoredInputs } = TARGET_IO.inputs;
    const scored = { ...manifest(causalLM({ inputs: scoredInputs })), version: 3 };
    expect(validateManifest(scored)).toEqual(scored);
    const older = errorOf(() => validateManifest({ ...scored, version: 2 }));
    expect(older.message).toContain(
      `field "models[0].inputs.scoreRows" must be absent for a target in a version-2 manifest (targets take score_rows from version 3); found "score_rows"`,
    );
  });

  it('accepts a draft LM’s in-graph top-k, entropy and softmax whole, on a draft LM only', () => {
    const summarised = causalLM({
      id: 'draft',
      role: 'draft',
      inputs: { ...DRAFT_LM_IO.inputs, ...DRAFT_LM_SUMMARY.inputs },
      outputs: { ...DRAFT_LM_IO.outputs, ...DRAFT_LM_SUMMARY.outputs },
    });
    expect(validateManifest(manifest(causalLM(), summarised))).toEqual(manifest(causalLM(), summarised));
    expect(causalLmLayout(summarised).names.draftSummary).toEqual({
      topK: 'top_k',
      topLogProbs: 'top_log_probs',
      topIds: 'top_ids',
      entropy: 'draft_entropy',
      probabilities: 'draft_probabilities',
    });
    expect(
      causalLmLayout(causalLM({ role: 'draft', inputs: DRAFT_LM_IO.inputs })).names.draftSummary,
    ).toBeUndefined();
    const { draftEntropy: _e, ...partial } = summarised.outputs;
    expect(
      errorOf(() => validateManifest(manifest(causalLM(), { ...summarised, outputs: partial }))).message,
    ).toContain('field "models[1].outputs.draftEntropy" must be a non-empty string; found undefined');
    const target = causalLM({ inputs: { ...causalLM().inputs, topK: 'top_k' } });
    expect(errorOf(() => validateManifest(manifest(target))).message).toContain(
      'field "models[0].outputs.draftEntropy" must be absent except for a draft LM; found undefined',
    );
  });

  it('accepts context tokens on an FR-Spec EAGLE-2 head from manifest version 4 on, and names what is missing', () => {
    const draftVocab = {
      size: 4,
      source: 'frequency' as const,
      corpus: { file: 'freq.json', tokens: 100 },
      targetIds: [3, 5, 7, 9],
      contextTokens: 16,
    };
    const withContext = head({ inputs: EAGLE_HEAD_CONTEXT_IO.inputs, draftVocab });
    const current = { ...manifest(causalLM(), withContext), version: 4 };
    expect(validateManifest(current)).toEqual(current);
    expect(eagleHeadLayout(withContext)).toMatchObject({
      contextTokens: 16,
      names: { contextIds: 'context_ids' },
    });
    expect(eagleHeadLayout(head())).toMatchObject({ contextTokens: 0, names: { contextIds: null } });
    expect(errorOf(() => validateManifest({ ...current, version: 3 })).message).toContain(
      'field "models[1].inputs.contextIds" must be absent in a version-3 manifest (heads score context tokens from version 4); found "context_ids"',
    );
    const noInput = { ...current, models: [causalLM(), head({ draftVocab })] };
    expect(errorOf(() => validateManifest(noInput)).message).toContain(
      'field "models[1].inputs.contextIds" must be a non-empty string; found undefined',
    );
    const { targetIds: _, ...noIds } = draftVocab;
    const unmapped = {
      ...current,
      models: [causalLM(), head({ inputs: withContext.inputs, draftVocab: noIds })],
    };
    expect(errorOf(() => validateManifest(unmapped)).message).toContain('models[1].draftVocab.targetIds');
    const tooMany = head({ inputs: withContext.inputs, draftVocab: { ...draftVocab, contextTokens: 8189 } });
    expect(errorOf(() => validateManifest({ ...current, models: [causalLM(), tooMany] })).message).toContain(
      'field "models[1].draftVocab.contextTokens" must be at most dims.vocab − draftVocab.size (8188); found 8189',
    );
  });

  it("accepts a target's greedy outputs as a pair, and only on a target", () => {
    const { sampledToken: _s, sampleWeights: _w, sampleMass: _m, ...greedyOutputs } = TARGET_IO.outputs;
    const target = causalLM({ outputs: greedyOutputs });
    expect(validateManifest(manifest(target))).toEqual(manifest(target));
    const { logitSum: _, ...alone } = greedyOutputs;
    expect(errorOf(() => validateManifest(manifest(causalLM({ outputs: alone })))).message).toContain(
      'field "models[0].outputs.logitSum" must be a non-empty string; found undefined',
    );
    const draft = causalLM({
      id: 'draft',
      role: 'draft',
      inputs: DRAFT_LM_IO.inputs,
      outputs: greedyOutputs,
    });
    expect(errorOf(() => validateManifest(manifest(causalLM(), draft))).message).toContain(
      'field "models[1].outputs.greedyToken" must be absent except for a target; found "greedy_token"',
    );
  });

  it("accepts a target's in-graph sampler from manifest version 5 on, whole, beside a logit sum, on a target only", () => {
    const target = causalLM({ inputs: TARGET_IO.inputs, outputs: TARGET_IO.outputs });
    const current = { ...manifest(target), version: 5 };
    expect(validateManifest(current)).toEqual(current);
    expect(causalLmLayout(target).names.sampler).toEqual({
      uniforms: 'sample_uniforms',
      temperature: 'sample_temperature',
      token: 'sampled_token',
      weights: 'sample_weights',
      mass: 'sample_mass',
    });
    // A version-5 target converted before the rows' weights existed draws tokens without them.
    const { sampleWeights: _w, sampleMass: _m, ...drawing } = TARGET_IO.outputs;
    const older = causalLM({ inputs: TARGET_IO.inputs, outputs: drawing });
    expect(validateManifest({ ...manifest(older), version: 5 })).toEqual({ ...manifest(older), version: 5 });
    expect(causalLmLayout(older).names.sampler).toEqual({
      uniforms: 'sample_uniforms',
      temperature: 'sample_temperature',
      token: 'sampled_token',
    });
    const weightsAlone = causalLM({ inputs: TARGET_IO.inputs, outputs: { ...drawing, sampleWeights: 'w' } });
    expect(errorOf(() => validateManifest({ ...manifest(weightsAlone), version: 5 })).message).toContain(
      'field "models[0].outputs.sampleMass" must be a non-empty string; found undefined',
    );
    expect(causalLmLayout(causalLM()).names.sampler).toBeUndefined();
    expect(errorOf(() => validateManifest({ ...current, version: 4 })).message).toContain(
      'field "models[0].inputs.sampleUniforms" must be absent in a version-4 manifest (targets draw tokens in their graph from version 5); found "sample_uniforms"',
    );
    const { sampleTemperature: _t, ...noTemperature } = TARGET_IO.inputs;
    const partial = { ...current, models: [causalLM({ inputs: noTemperature, outputs: TARGET_IO.outputs })] };
    expect(errorOf(() => validateManifest(partial)).message).toContain(
      'field "models[0].inputs.sampleTemperature" must be a non-empty string; found undefined',
    );
    const draft = causalLM({
      id: 'draft',
      role: 'draft',
      inputs: { ...DRAFT_LM_IO.inputs, sampleUniforms: 'u' },
    });
    expect(errorOf(() => validateManifest({ ...manifest(causalLM(), draft), version: 5 })).message).toContain(
      'field "models[1].outputs.sampledToken" must be absent except for a target; found "u"',
    );
  });

  it('accepts each layer’s cache after a call, both names per layer, for plain attention only', () => {
    const outputs = { ...CAUSAL_LM_IO.outputs, ...PLAIN_CACHE_OUTPUTS };
    const target = causalLM({ outputs });
    const drafter = head({ outputs: { ...EAGLE_HEAD_IO.outputs, ...PLAIN_CACHE_OUTPUTS } });
    expect(validateManifest(manifest(target, drafter))).toEqual(manifest(target, drafter));
    const layers = Array.from({ length: 8 }, (_, l) => l);
    expect(causalLmLayout(target).names.cache).toEqual({
      keys: layers.map((l) => `cache_key.${l}`),
      values: layers.map((l) => `cache_value.${l}`),
    });
    expect(eagleHeadLayout(drafter).names.cache).toEqual({ key: 'cache_key.0', value: 'cache_value.0' });
    // Bundles converted before these outputs existed have neither.
    expect(causalLmLayout(causalLM()).names.cache).toBeUndefined();
    expect(eagleHeadLayout(head()).names.cache).toBeUndefined();
    const { cacheValue: _v, ...keysAlone } = outputs;
    expect(errorOf(() => validateManifest(manifest(causalLM({ outputs: keysAlone })))).message).toContain(
      'field "models[0].outputs.cacheValue" must be a non-empty string; found undefined',
    );
    const unlayered = causalLM({ outputs: { ...outputs, cacheKey: 'cache_key' } });
    expect(errorOf(() => validateManifest(manifest(unlayered))).message).toContain(
      'field "models[0].outputs.cacheKey" must be a name containing "{layer}"; found "cache_key"',
    );
    const kvCache = { ...causalLM().kvCache, layout: 'bnsh', present: 'shared' } as const;
    const fused = causalLM({ attention: 'fused', kvCache, outputs });
    expect(errorOf(() => validateManifest(manifest(fused))).message).toContain(
      'field "models[0].outputs.cacheKey" must be absent except for plain attention (found "fused"); found "cache_key.{layer}"',
    );
  });

  it('accepts a target’s packed row outputs beside its greedy outputs (over its captured states beside those), and a head’s step output on a head only', () => {
    const { sampledToken: _s, sampleWeights: _w, sampleMass: _m, ...outputs } = TARGET_IO.outputs;
    const captured = {
      ...outputs,
      capturedFeature: 'captured_feature',
      capturedRowOutputs: CAPTURED_ROW_OUTPUTS,
    };
    const target = causalLM({ outputs: captured, capturedLayers: [2, 4] });
    const drafter = head({ outputs: { ...EAGLE_HEAD_IO.outputs, ...HEAD_STEP_OUTPUTS } });
    expect(validateManifest(manifest(target, drafter))).toEqual(manifest(target, drafter));
    expect(causalLmLayout(target).names).toMatchObject({
      rowOutputs: 'row_outputs',
      unread: ['captured_feature', 'captured_row_outputs'],
    });
    expect(capturedFeatureLayout(target).names).toMatchObject({
      rowOutputs: 'captured_row_outputs',
      unread: ['feature', 'row_outputs'],
    });
    expect(eagleHeadLayout(drafter).names.stepOutputs).toBe('step_outputs');
    expect(eagleHeadLayout(drafter).names.draftProbabilities).toBe('draft_probabilities');
    // Older bundles have none; a head that scores every row cannot pack its scored rows.
    expect(causalLmLayout(causalLM()).names.rowOutputs).toBeUndefined();
    expect(eagleHeadLayout(head()).names.stepOutputs).toBeNull();
    expect(eagleHeadLayout(head()).names.draftProbabilities).toBeNull();
    const { scoreRows: _r, ...unscored } = EAGLE_HEAD_IO.inputs;
    expect(
      eagleHeadLayout(head({ inputs: unscored, outputs: drafter.outputs })).names.stepOutputs,
    ).toBeNull();
    const { greedyToken: _g, logitSum: _l, ...ungreedy } = outputs;
    expect(errorOf(() => validateManifest(manifest(causalLM({ outputs: ungreedy })))).message).toContain(
      'field "models[0].outputs.greedyToken" must be greedy outputs beside outputs.rowOutputs; found undefined',
    );
    expect(
      errorOf(() =>
        validateManifest(manifest(causalLM({ outputs: { ...outputs, capturedRowOutputs: 'c' } }))),
      ).message,
    ).toContain(
      'field "models[0].outputs.capturedFeature" must be a captured feature beside outputs.capturedRowOutputs',
    );
    const stepped = causalLM({ outputs: { ...outputs, ...HEAD_STEP_OUTPUTS } });
    expect(errorOf(() => validateManifest(manifest(stepped))).message).toContain(
      'field "models[0].outputs.stepOutputs" must be absent except for an EAGLE head; found "step_outputs"',
    );
    const weighing = causalLM({ outputs: { ...outputs, draftProbabilities: 'draft_probabilities' } });
    expect(errorOf(() => validateManifest(manifest(weighing))).message).toContain(
      'field "models[0].outputs.draftProbabilities" must be absent except for an EAGLE head or a draft LM; found "draft_probabilities"',
    );
    const packedHead = head({ outputs: { ...EAGLE_HEAD_IO.outputs, rowOutputs: 'row_outputs' } });
    expect(errorOf(() => validateManifest(manifest(causalLM(), packedHead))).message).toContain(
      'field "models[1].outputs.rowOutputs" must be absent except for a target; found "row_outputs"',
    );
  });

  it('accepts packed new entries on a causal LM with plain or in-place attention only', () => {
    const packed = causalLM({ outputs: { ...causalLM().outputs, ...PRESENT_ROWS_OUTPUT } });
    expect(validateManifest(manifest(packed))).toEqual(manifest(packed));
    expect(causalLmLayout(packed).names.presentRows).toBe('present_rows');
    expect(causalLmLayout(causalLM()).names.presentRows).toBeUndefined();
    const inPlace = causalLM({
      attention: 'in-place',
      kvCache: { ...causalLM().kvCache, layout: 'bnsh' },
      outputs: packed.outputs,
    });
    expect(validateManifest(manifest(inPlace))).toEqual(manifest(inPlace));
    const kvCache = { ...causalLM().kvCache, layout: 'bnsh', present: 'shared' } as const;
    const fused = causalLM({ attention: 'fused', kvCache, outputs: packed.outputs });
    expect(errorOf(() => validateManifest(manifest(fused))).message).toContain(
      'field "models[0].outputs.presentRows" must be absent except for a causal LM with plain or in-place attention; found "present_rows"',
    );
    const packedHead = head({ outputs: { ...EAGLE_HEAD_IO.outputs, ...PRESENT_ROWS_OUTPUT } });
    expect(errorOf(() => validateManifest(manifest(causalLM(), packedHead))).message).toContain(
      'field "models[1].outputs.presentRows" must be absent except for a causal LM with plain or in-place attention',
    );
    const unnamed = causalLM({ outputs: { ...causalLM().outputs, presentRows: '' } });
    expect(errorOf(() => validateManifest(manifest(unnamed))).message).toContain(
      'field "models[0].outputs.presentRows" must be a non-empty string',
    );
  });

  it('accepts in-place attention with a new-only bnsh cache, for a causal LM only, without float64 sums', () => {
    const kvCache = { ...causalLM().kvCache, layout: 'bnsh' } as const;
    const inPlace = causalLM({ attention: 'in-place', kvCache });
    expect(parseManifest(JSON.stringify(manifest(inPlace)))).toEqual(manifest(inPlace));
    const bsnh = errorOf(() => validateManifest(manifest(causalLM({ attention: 'in-place' })), 'm.json'));
    expect(bsnh.message).toContain('"bnsh" (attention "in-place")');
    const shared = errorOf(() =>
      validateManifest(
        manifest(causalLM({ attention: 'in-place', kvCache: { ...kvCache, present: 'shared' } })),
        'm.json',
      ),
    );
    expect(shared.message).toContain('"new-only" (attention "in-place")');
    const float64 = errorOf(() =>
      validateManifest(
        manifest(causalLM({ attention: 'in-place', kvCache, attentionPrecision: 'float64' })),
        'm.json',
      ),
    );
    expect(float64.message).toContain('absent except for a causal LM with plain attention');
  });

  it('accepts fused attention with a shared bnsh cache and rejects it with the plain cache layout', () => {
    const fusedKv = { ...causalLM().kvCache, layout: 'bnsh', present: 'shared' } as const;
    const fused = causalLM({ attention: 'fused', kvCache: fusedKv });
    expect(parseManifest(JSON.stringify(manifest(fused)))).toEqual(manifest(fused));
    const stale = errorOf(() => validateManifest(manifest(causalLM({ attention: 'fused' })), 'm.json'));
    expect(stale.message).toContain('models[0].kvCache.layout');
    expect(stale.message).toContain('"bnsh" (attention "fused")');
    const plainShared = errorOf(() => validateManifest(manifest(causalLM({ kvCache: fusedKv })), 'm.json'));
    expect(plainShared.message).toContain('"bsnh" (attention "plain")');
    const fusedHead = errorOf(() =>
      validateManifest(
        manifest(causalLM(), head({ attention: 'fused', kvCache: { ...fusedKv, layers: 1 } })),
        'm.json',
      ),
    );
    expect(fusedHead.message).toContain('models[1].attention');
  });

  it('accepts attentionPrecision on a causal LM with plain attention only', () => {
    const exact = causalLM({ attentionPrecision: 'float64' });
    expect(parseManifest(JSON.stringify(manifest(exact)))).toEqual(manifest(exact));
    const other = errorOf(() =>
      validateManifest(manifest(causalLM({ attentionPrecision: 'float16' as 'float64' })), 'm.json'),
    );
    expect(other.message).toContain('models[0].attentionPrecision');
    const onHead = errorOf(() =>
      validateManifest(manifest(causalLM(), head({ attentionPrecision: 'float64' })), 'm.json'),
    );
    expect(onHead.message).toContain(
      'field "models[1].attentionPrecision" must be absent except for a causal LM',
    );
  });

  it('names the file when the text is not JSON', () => {
    const e = errorOf(() => parseManifest('{"format":', 'models/treespec.json'));
    expect(e.file).toBe('models/treespec.json');
    expect(e.code).toBe('MODEL_FORMAT');
    expect(e.message).toMatch(/^models\/treespec\.json: not valid JSON/);
  });

  it('rejects a manifest version it does not read, saying which it reads', () => {
    const e = errorOf(() => validateManifest({ ...manifest(causalLM()), version: 6 }, 'a/treespec.json'));
    expect(e.message).toBe(
      'a/treespec.json: field "version" must be 1, 2, 3, 4 or 5 (the manifest versions this @treespec/onnx reads); found 6',
    );
  });

  it.each([
    [
      'a negative vocab',
      { dims: { ...causalLM().dims, vocab: -1 } },
      'models[0].dims.vocab',
      'an integer >= 1',
    ],
    [
      'kv heads that do not divide heads',
      { dims: { ...causalLM().dims, kvHeads: 4 } },
      'models[0].dims.kvHeads',
      'a divisor of heads (6)',
    ],
    [
      'another KV layout',
      { kvCache: { ...causalLM().kvCache, layout: 'bnsh' as 'bsnh' } },
      'models[0].kvCache.layout',
      '"bsnh"',
    ],
    [
      'a KV layer count unlike dims',
      { kvCache: { ...causalLM().kvCache, layers: 7 } },
      'models[0].kvCache.layers',
      'dims.layers (8)',
    ],
    [
      'a per-layer name without {layer}',
      { inputs: { ...CAUSAL_LM_IO.inputs, pastKey: 'past_key' } },
      'models[0].inputs.pastKey',
      'a name containing "{layer}"',
    ],
    [
      'a missing feature output',
      { outputs: { ...CAUSAL_LM_IO.outputs, feature: undefined } },
      'models[0].outputs.feature',
      'a non-empty string',
    ],
    [
      'an unknown rope type',
      { rope: { type: 'dynamic' as 'default', theta: 1e4 } },
      'models[0].rope.type',
      'one of',
    ],
    [
      'a short tokenizer hash',
      { tokenizer: { ...causalLM().tokenizer, sha256: 'abc' } },
      'models[0].tokenizer.sha256',
      'a hex sha256',
    ],
    [
      'an unknown weight format',
      { weightFormat: 'int3' as 'int4' },
      'models[0].weightFormat',
      'one of "fp32", "fp16", "int8", "int4"',
    ],
    [
      'quantization bits unlike the weight format',
      { weightFormat: 'int8' as const, quantization: { ...INT8, bits: 4 as const } },
      'models[0].quantization.bits',
      '8 (weightFormat "int8")',
    ],
    [
      'a quantization block size that is not a power of two',
      { weightFormat: 'int4' as const, quantization: { ...INT8, bits: 4 as const, blockSize: 24 } },
      'models[0].quantization.blockSize',
      'a power of two >= 16',
    ],
    [
      'quantization details on fp32 weights',
      { quantization: INT8 },
      'models[0].quantization',
      'absent for weightFormat "fp32"',
    ],
    [
      'a role that does not fit the graph',
      { role: 'eagle-head' as const },
      'models[0].graph',
      '"eagle-head"',
    ],
  ])('rejects %s, naming the field and what was expected', (_name, override, field, expected) => {
    const e = errorOf(() =>
      validateManifest(manifest(causalLM(override as Partial<ManifestModel>)), 'm/treespec.json'),
    );
    expect(e.message).toContain(`m/treespec.json: field "${field}" must be ${expected}`);
  });

  it('rejects two inputs or two outputs of a model that name one value', () => {
    const feature = head({ inputs: { ...EAGLE_HEAD_IO.inputs, feature: EAGLE_HEAD_IO.inputs.inputIds } });
    expect(errorOf(() => validateManifest(manifest(causalLM(), feature))).message).toContain(
      `field "models[1].inputs.feature" must be a name of its own (models[1].inputs.inputIds also names "${EAGLE_HEAD_IO.inputs.inputIds}")`,
    );
    const layer = causalLM({ outputs: { ...CAUSAL_LM_IO.outputs, logits: 'present.7.key' } });
    const keyOfLayer7 = errorOf(() =>
      validateManifest(
        manifest({ ...layer, outputs: { ...layer.outputs, presentKey: 'present.{layer}.key' } }),
      ),
    );
    expect(keyOfLayer7.message).toContain('also names "present.7.key"');
    expect(() => validateManifest(manifest(causalLM(), head()))).not.toThrow();
  });

  it('rejects a head without its base model and duplicate ids', () => {
    expect(
      errorOf(() => validateManifest(manifest(causalLM(), head({ base: undefined })))).message,
    ).toContain('field "models[1].base" must be an object; found undefined');
    expect(errorOf(() => validateManifest(manifest(causalLM(), causalLM()))).message).toContain(
      'field "models[1].id" must be an id not used by another model; found "target"',
    );
  });
});

describe('findModel and layerName', () => {
  it('finds a model by id or lists the ids it has', () => {
    const m = manifest(causalLM(), head());
    expect(findModel(m, 'eagle-head').role).toBe('eagle-head');
    expect(errorOf(() => findModel(m, 'draft', 'x/treespec.json')).message).toBe(
      'x/treespec.json: has no model "draft" (it lists: target, eagle-head)',
    );
  });

  it('expands per-layer names', () => {
    expect(layerName(CAUSAL_LM_IO.inputs.pastKey, 3)).toBe('past_key.3');
    expect(layerName(EAGLE_HEAD_IO.outputs.presentValue, 0)).toBe('present_value.0');
  });
});

describe('checkModelPair', () => {
  it('accepts a head and a draft made for the target', () => {
    const draft = causalLM({
      id: 'draft',
      role: 'draft',
      file: 'draft.onnx',
      dims: { ...causalLM().dims, hidden: 192 },
    });
    expect(() => checkModelPair(causalLM(), head())).not.toThrow();
    expect(() => checkModelPair(causalLM(), draft)).not.toThrow();
  });

  it.each([
    ['vocab size', head({ dims: { ...head().dims, vocab: 32000 } }), 32000, 8192],
    ['hidden size', head({ dims: { ...head().dims, hidden: 512 } }), 512, 384],
    ['tokenizer.json sha256', head({ tokenizer: { ...head().tokenizer, sha256: SHA_B } }), SHA_B, SHA_A],
    ['lm_head sha256', head({ base: { id: 'other', lmHead: { ...LM_HEAD, sha256: SHA_B } } }), SHA_B, SHA_A],
  ])(
    'rejects a head whose %s differs, naming both files and both values',
    (property, partner, partnerValue, targetValue) => {
      const e = errorOf(() =>
        checkModelPair(causalLM(), partner, { target: 'big/target.onnx', partner: 'heads/eagle-head.onnx' }),
      );
      expect(e).toBeInstanceOf(ModelMismatchError);
      expect(e.code).toBe('MODEL_MISMATCH');
      expect(e.message).toBe(
        `eagle-head heads/eagle-head.onnx does not fit target big/target.onnx: ${property} is ` +
          `${JSON.stringify(partnerValue)} in heads/eagle-head.onnx but ${JSON.stringify(targetValue)} in big/target.onnx`,
      );
      expect(e).toMatchObject({ property, partnerValue, targetValue });
    },
  );

  it('rejects a draft with another vocabulary and pairs that have the roles the wrong way round', () => {
    const draft = causalLM({
      id: 'draft',
      role: 'draft',
      file: 'draft.onnx',
      dims: { ...causalLM().dims, vocab: 100 },
    });
    expect(errorOf(() => checkModelPair(causalLM(), draft)).message).toContain(
      'vocab size is 100 in draft.onnx but 8192 in target.onnx',
    );
    expect(errorOf(() => checkModelPair(draft, head())).message).toBe(
      'draft.onnx: expected a model with role "target"; found role "draft"',
    );
    expect(errorOf(() => checkModelPair(causalLM(), causalLM())).message).toContain('found role "target"');
  });
});
