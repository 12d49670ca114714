import { describeValue, ModelFormatError } from '@treespec/core';
import {
  type AttentionLayout,
  BUNDLE_DEVICES,
  CAUSAL_LM_IO,
  DRAFT_LM_IO,
  EAGLE_HEAD_IO,
  EAGLE3_HEAD_IO,
  type GraphKind,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  type Manifest,
  type ManifestModel,
  type ManifestVersion,
  type ModelInputs,
  type ModelRole,
  OPTIONAL_INPUTS,
  QUANTIZED_BITS,
  READABLE_MANIFEST_VERSIONS,
  WEIGHT_FORMATS,
} from './manifest-schema.js';

/**
 * Parses and validates the text of a `treespec.json`. `file` names it in errors.
 * @throws ModelFormatError when the text is not JSON or the manifest is malformed.
 */
export function parseManifest(text: string, file: string = MANIFEST_FILE): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ModelFormatError(`not valid JSON (${(cause as Error).message})`, { file, cause });
  }
  return validateManifest(value, file);
}

/**
 * Checks that `value` is a well-formed manifest of a version this code reads and returns it typed.
 * @throws ModelFormatError naming `file`, the field, what was expected and what was found.
 */
export function validateManifest(value: unknown, file: string = MANIFEST_FILE): Manifest {
  const v = new Checker(file);
  const root = v.object(value, '');
  if (root.format !== MANIFEST_FORMAT) v.fail('format', `"${MANIFEST_FORMAT}"`, root.format);
  if (!READABLE_MANIFEST_VERSIONS.includes(root.version as ManifestVersion)) {
    v.fail(
      'version',
      `${READABLE_MANIFEST_VERSIONS.slice(0, -1).join(', ')} or ${READABLE_MANIFEST_VERSIONS.at(-1)} (the manifest versions this @treespec/onnx reads)`,
      root.version,
    );
  }
  v.string(root.generator, 'generator');
  const models = v.array(root.models, 'models');
  if (models.length === 0) v.fail('models', 'at least one model', models);
  const ids = new Set<string>();
  models.forEach((m, i) => {
    const model = validateModel(v, m, `models[${i}]`, root.version as ManifestVersion);
    if (ids.has(model.id)) v.fail(`models[${i}].id`, 'an id not used by another model', model.id);
    ids.add(model.id);
  });
  if (root.tuning !== undefined) validateTuning(v, root.tuning);
  return value as Manifest;
}

const TREE_FIELDS = ['topK', 'frontier', 'depth', 'totalTokens', 'minFrontierProbability'];

function validateTuning(v: Checker, value: unknown): void {
  const tuning = v.object(value, 'tuning');
  for (const [device, section] of Object.entries(tuning)) {
    v.oneOf(device, `tuning.${device}`, BUNDLE_DEVICES);
    const budgets = v.object(section, `tuning.${device}`);
    for (const [name, tree] of Object.entries(budgets)) {
      v.oneOf(name, `tuning.${device}.${name}`, ['tree', 'draftTree'] as const);
      const fields = v.object(tree, `tuning.${device}.${name}`);
      for (const [key, n] of Object.entries(fields)) {
        const at = `tuning.${device}.${name}.${key}`;
        v.oneOf(key, at, TREE_FIELDS);
        if (key === 'minFrontierProbability') {
          if (typeof n !== 'number' || !(n >= 0 && n < 1)) v.fail(at, 'a number in [0, 1)', n);
        } else if (key === 'depth') v.nonNegativeInt(n, at);
        else if (key === 'totalTokens' && v.positiveInt(n, at) < 2)
          v.fail(at, 'an integer >= 2 (the root counts)', n);
        else v.positiveInt(n, at);
      }
    }
  }
}

/** Returns the manifest's model with `id`, or throws a {@link ModelFormatError} naming `file`. */
export function findModel(manifest: Manifest, id: string, file: string = MANIFEST_FILE): ManifestModel {
  const model = manifest.models.find((m) => m.id === id);
  if (!model) {
    const have = manifest.models.map((m) => m.id).join(', ');
    throw new ModelFormatError(`has no model "${id}" (it lists: ${have})`, { file });
  }
  return model;
}

function validateModel(v: Checker, value: unknown, at: string, version: ManifestVersion): ManifestModel {
  const m = v.object(value, at);
  v.string(m.id, `${at}.id`);
  const role = v.oneOf(m.role, `${at}.role`, ['target', 'draft', 'eagle-head', 'eagle3-head'] as const);
  const graph = v.oneOf(m.graph, `${at}.graph`, ['causal-lm', 'eagle-head', 'eagle3-head'] as const);
  const expectedGraph = role === 'eagle-head' || role === 'eagle3-head' ? role : 'causal-lm';
  if (graph !== expectedGraph) v.fail(`${at}.graph`, `"${expectedGraph}"`, graph);
  v.string(m.file, `${at}.file`);
  for (const [i, f] of v.array(m.externalData, `${at}.externalData`).entries()) {
    v.string(f, `${at}.externalData[${i}]`);
  }
  v.oneOf(m.dtype, `${at}.dtype`, ['float32', 'float16'] as const);
  const weightFormat = v.oneOf(m.weightFormat, `${at}.weightFormat`, WEIGHT_FORMATS);
  if (m.quantization !== undefined) {
    const bits = QUANTIZED_BITS[weightFormat];
    if (bits === undefined)
      v.fail(`${at}.quantization`, `absent for weightFormat "${weightFormat}"`, m.quantization);
    const q = v.object(m.quantization, `${at}.quantization`);
    if (q.op !== 'com.microsoft.MatMulNBits')
      v.fail(`${at}.quantization.op`, '"com.microsoft.MatMulNBits"', q.op);
    if (q.bits !== bits)
      v.fail(`${at}.quantization.bits`, `${bits} (weightFormat "${weightFormat}")`, q.bits);
    const blockSize = v.positiveInt(q.blockSize, `${at}.quantization.blockSize`);
    if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0)
      v.fail(`${at}.quantization.blockSize`, 'a power of two >= 16', blockSize);
    if (typeof q.symmetric !== 'boolean')
      v.fail(`${at}.quantization.symmetric`, 'true or false', q.symmetric);
    const level = v.nonNegativeInt(q.accuracyLevel, `${at}.quantization.accuracyLevel`);
    if (level > 4) v.fail(`${at}.quantization.accuracyLevel`, 'an integer in [0, 4]', level);
  }
  const dims = v.object(m.dims, `${at}.dims`);
  for (const key of [
    'vocab',
    'hidden',
    'layers',
    'heads',
    'kvHeads',
    'headDim',
    'intermediate',
    'maxContext',
  ]) {
    v.positiveInt(dims[key], `${at}.dims.${key}`);
  }
  const heads = dims.heads as number;
  const kvHeads = dims.kvHeads as number;
  if (heads % kvHeads !== 0) v.fail(`${at}.dims.kvHeads`, `a divisor of heads (${heads})`, kvHeads);
  const inputs = v.object(m.inputs, `${at}.inputs`);
  const outputs = v.object(m.outputs, `${at}.outputs`);
  const need =
    graph === 'eagle-head'
      ? EAGLE_HEAD_IO
      : graph === 'eagle3-head'
        ? EAGLE3_HEAD_IO
        : role === 'draft'
          ? DRAFT_LM_IO
          : CAUSAL_LM_IO;
  if (role === 'target' && inputs.scoreRows !== undefined && version < 3)
    v.fail(
      `${at}.inputs.scoreRows`,
      `absent for a target in a version-${version} manifest (targets take score_rows from version 3)`,
      inputs.scoreRows,
    );
  for (const key of Object.keys(need.inputs) as (keyof ModelInputs)[]) {
    if (!OPTIONAL_INPUTS.has(key) || inputs[key] !== undefined) v.string(inputs[key], `${at}.inputs.${key}`);
  }
  for (const key of Object.keys(need.outputs)) v.string(outputs[key], `${at}.outputs.${key}`);
  validateContextTokens(v, m, at, graph, version);
  if (outputs.greedyToken !== undefined || outputs.logitSum !== undefined) {
    if (role !== 'target')
      v.fail(
        `${at}.outputs.greedyToken`,
        'absent except for a target',
        outputs.greedyToken ?? outputs.logitSum,
      );
    v.string(outputs.greedyToken, `${at}.outputs.greedyToken`);
    v.string(outputs.logitSum, `${at}.outputs.logitSum`);
  }
  validateSampler(v, inputs, outputs, at, role, version);
  for (const [key, name] of [
    ['pastKey', inputs.pastKey],
    ['pastValue', inputs.pastValue],
  ] as const) {
    if (!(name as string).includes('{layer}'))
      v.fail(`${at}.inputs.${key}`, 'a name containing "{layer}"', name);
  }
  for (const [key, name] of [
    ['presentKey', outputs.presentKey],
    ['presentValue', outputs.presentValue],
  ] as const) {
    if (!(name as string).includes('{layer}'))
      v.fail(`${at}.outputs.${key}`, 'a name containing "{layer}"', name);
  }
  requireDistinctNames(v, inputs, `${at}.inputs`, dims.layers as number);
  requireDistinctNames(v, outputs, `${at}.outputs`, dims.layers as number);
  const attention = v.oneOf(m.attention ?? 'plain', `${at}.attention`, [
    'plain',
    'in-place',
    'fused',
  ] as const);
  if (attention !== 'plain' && graph !== 'causal-lm')
    v.fail(`${at}.attention`, '"plain" for an EAGLE head', attention);
  const fused = attention === 'fused';
  validateCacheOutputs(v, outputs, at, attention);
  validateRowOutputs(v, outputs, at, role);
  if (outputs.presentRows !== undefined) {
    if (graph !== 'causal-lm' || fused)
      v.fail(
        `${at}.outputs.presentRows`,
        'absent except for a causal LM with plain or in-place attention',
        outputs.presentRows,
      );
    v.string(outputs.presentRows, `${at}.outputs.presentRows`);
  }
  if (outputs.stepOutputs !== undefined) {
    if (graph === 'causal-lm')
      v.fail(`${at}.outputs.stepOutputs`, 'absent except for an EAGLE head', outputs.stepOutputs);
    v.string(outputs.stepOutputs, `${at}.outputs.stepOutputs`);
  }
  validateDraftSummary(v, inputs, outputs, at, graph, role);
  if (m.attentionPrecision !== undefined) {
    v.oneOf(m.attentionPrecision, `${at}.attentionPrecision`, ['float32', 'float64'] as const);
    if (graph !== 'causal-lm' || attention !== 'plain')
      v.fail(
        `${at}.attentionPrecision`,
        'absent except for a causal LM with plain attention',
        m.attentionPrecision,
      );
  }
  const kv = v.object(m.kvCache, `${at}.kvCache`);
  const layout = attention === 'plain' ? 'bsnh' : 'bnsh';
  if (kv.layout !== layout)
    v.fail(`${at}.kvCache.layout`, `"${layout}" (attention "${attention}")`, kv.layout);
  if (kv.keysRotated !== true) v.fail(`${at}.kvCache.keysRotated`, 'true', kv.keysRotated);
  const present = fused ? 'shared' : 'new-only';
  if (kv.present !== present)
    v.fail(`${at}.kvCache.present`, `"${present}" (attention "${attention}")`, kv.present);
  v.oneOf(kv.dtype, `${at}.kvCache.dtype`, ['float32', 'float16'] as const);
  for (const key of ['layers', 'kvHeads', 'headDim'] as const) {
    if (kv[key] !== dims[key]) v.fail(`${at}.kvCache.${key}`, `dims.${key} (${dims[key]})`, kv[key]);
  }
  const rope = v.object(m.rope, `${at}.rope`);
  v.oneOf(rope.type, `${at}.rope.type`, ['default', 'linear', 'llama3', 'yarn'] as const);
  v.positiveNumber(rope.theta, `${at}.rope.theta`);
  v.positiveNumber(m.rmsNormEps, `${at}.rmsNormEps`);
  const feature = graph === 'eagle3-head' ? 'captured-layers' : 'final-norm';
  if (m.feature !== feature) v.fail(`${at}.feature`, `"${feature}"`, m.feature);
  validateEagle3Fields(v, m, at, graph, dims.layers as number);
  const tok = v.object(m.tokenizer, `${at}.tokenizer`);
  const files = v.array(tok.files, `${at}.tokenizer.files`);
  if (!files.includes('tokenizer.json'))
    v.fail(`${at}.tokenizer.files`, 'a list containing "tokenizer.json"', files);
  if (typeof tok.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(tok.sha256)) {
    v.fail(`${at}.tokenizer.sha256`, 'a hex sha256', tok.sha256);
  }
  for (const key of ['bosTokenId', 'padTokenId']) {
    if (tok[key] !== null) v.nonNegativeInt(tok[key], `${at}.tokenizer.${key}`);
  }
  for (const [i, id] of v.array(tok.eosTokenIds, `${at}.tokenizer.eosTokenIds`).entries()) {
    v.nonNegativeInt(id, `${at}.tokenizer.eosTokenIds[${i}]`);
  }
  const source = v.object(m.source, `${at}.source`);
  for (const key of ['architecture', 'modelType', 'checkpoint']) v.string(source[key], `${at}.source.${key}`);
  if (m.lmHead !== undefined) v.fingerprint(m.lmHead, `${at}.lmHead`);
  if (role === 'eagle-head' || role === 'eagle3-head') {
    const base = v.object(m.base, `${at}.base`);
    v.string(base.id, `${at}.base.id`);
    v.fingerprint(base.lmHead, `${at}.base.lmHead`);
  }
  return m as unknown as ManifestModel;
}

/**
 * Each of a model's graph inputs (or outputs) has a name no other one has, for every layer a
 * `{layer}` template expands to: a runner feeds (or fetches) by name, so two fields naming one
 * value would feed one tensor where the graph expects two.
 */
function requireDistinctNames(v: Checker, names: Record<string, unknown>, at: string, layers: number): void {
  const owner = new Map<string, string>();
  for (const [key, name] of Object.entries(names)) {
    if (typeof name !== 'string') continue;
    const expanded = name.includes('{layer}')
      ? Array.from({ length: layers }, (_, l) => name.replaceAll('{layer}', String(l)))
      : [name];
    for (const each of expanded) {
      const other = owner.get(each);
      if (other !== undefined && other !== key)
        v.fail(`${at}.${key}`, `a name of its own (${at}.${other} also names "${each}")`, name);
      owner.set(each, key);
    }
  }
}

/**
 * `capturedLayers` (ascending layer indices, with `outputs.capturedFeature` on a causal LM; required
 * on an EAGLE-3 head) and `draftVocab` (required on an EAGLE-3 head; at most `dims.vocab` tokens,
 * their `targetIds`, when recorded, distinct and below `dims.vocab`).
 */
function validateEagle3Fields(
  v: Checker,
  m: Record<string, unknown>,
  at: string,
  graph: GraphKind,
  layers: number,
): void {
  const dims = m.dims as Record<string, unknown>;
  if (m.capturedLayers !== undefined || graph === 'eagle3-head') {
    const captured = v.array(m.capturedLayers, `${at}.capturedLayers`);
    if (captured.length === 0) v.fail(`${at}.capturedLayers`, 'at least one layer', captured);
    captured.forEach((layer, i) => {
      v.nonNegativeInt(layer, `${at}.capturedLayers[${i}]`);
      if (graph === 'causal-lm' && (layer as number) >= layers)
        v.fail(`${at}.capturedLayers[${i}]`, `a layer index below dims.layers (${layers})`, layer);
      if (i > 0 && (layer as number) <= (captured[i - 1] as number))
        v.fail(`${at}.capturedLayers`, 'ascending layer indices', captured);
    });
    if (graph === 'causal-lm')
      v.string((m.outputs as Record<string, unknown>).capturedFeature, `${at}.outputs.capturedFeature`);
  }
  if (m.draftVocab !== undefined || graph === 'eagle3-head') {
    const dv = v.object(m.draftVocab, `${at}.draftVocab`);
    const size = v.positiveInt(dv.size, `${at}.draftVocab.size`);
    if (size > (dims.vocab as number))
      v.fail(`${at}.draftVocab.size`, `at most dims.vocab (${dims.vocab})`, size);
    const source = v.oneOf(dv.source, `${at}.draftVocab.source`, ['eagle3-d2t', 'frequency'] as const);
    if (source === 'frequency') {
      const corpus = v.object(dv.corpus, `${at}.draftVocab.corpus`);
      v.string(corpus.file, `${at}.draftVocab.corpus.file`);
      v.positiveInt(corpus.tokens, `${at}.draftVocab.corpus.tokens`);
    }
    if (
      dv.coverage !== undefined &&
      !(typeof dv.coverage === 'number' && dv.coverage >= 0 && dv.coverage <= 1)
    )
      v.fail(`${at}.draftVocab.coverage`, 'a number in [0, 1]', dv.coverage);
    if (dv.targetIds !== undefined)
      validateTargetIds(v, dv.targetIds, `${at}.draftVocab.targetIds`, size, dims.vocab as number);
  }
}

/**
 * `draftVocab.contextTokens` and `inputs.contextIds` come together, on an EAGLE-1/2 head with a
 * recorded draft→target table, in a manifest of version 4 or later; the draft and context tokens
 * together fit in the vocabulary.
 */
function validateContextTokens(
  v: Checker,
  m: Record<string, unknown>,
  at: string,
  graph: GraphKind,
  version: ManifestVersion,
): void {
  const inputs = m.inputs as Record<string, unknown>;
  const dv = m.draftVocab as Record<string, unknown> | undefined;
  if (dv?.contextTokens === undefined && inputs.contextIds === undefined) return;
  if (graph !== 'eagle-head')
    v.fail(`${at}.draftVocab.contextTokens`, 'absent except for an EAGLE-1/2 head', dv?.contextTokens);
  if (version < 4)
    v.fail(
      `${at}.inputs.contextIds`,
      `absent in a version-${version} manifest (heads score context tokens from version 4)`,
      inputs.contextIds,
    );
  if (dv === undefined) v.fail(`${at}.draftVocab`, 'a draft vocabulary beside inputs.contextIds', dv);
  const tokens = v.positiveInt(dv.contextTokens, `${at}.draftVocab.contextTokens`);
  v.string(inputs.contextIds, `${at}.inputs.contextIds`);
  if (dv.targetIds === undefined)
    v.fail(`${at}.draftVocab.targetIds`, 'the draft tokens’ target ids beside contextTokens', dv.targetIds);
  const vocab = (m.dims as Record<string, unknown>).vocab as number;
  if ((dv.size as number) + tokens > vocab)
    v.fail(
      `${at}.draftVocab.contextTokens`,
      `at most dims.vocab − draftVocab.size (${vocab - (dv.size as number)})`,
      tokens,
    );
}

/**
 * A target's in-graph sampler (manifest version 5): `inputs.sampleUniforms`,
 * `inputs.sampleTemperature` and `outputs.sampledToken` together, beside the greedy outputs; and
 * its rows' weights, `outputs.sampleWeights` and `outputs.sampleMass` together, or neither.
 */
function validateSampler(
  v: Checker,
  inputs: Record<string, unknown>,
  outputs: Record<string, unknown>,
  at: string,
  role: ModelRole,
  version: ManifestVersion,
): void {
  const named = inputs.sampleUniforms ?? inputs.sampleTemperature ?? outputs.sampledToken;
  if (named === undefined) return;
  if (role !== 'target') v.fail(`${at}.outputs.sampledToken`, 'absent except for a target', named);
  if (version < 5)
    v.fail(
      `${at}.inputs.sampleUniforms`,
      `absent in a version-${version} manifest (targets draw tokens in their graph from version 5)`,
      named,
    );
  v.string(inputs.sampleUniforms, `${at}.inputs.sampleUniforms`);
  v.string(inputs.sampleTemperature, `${at}.inputs.sampleTemperature`);
  v.string(outputs.sampledToken, `${at}.outputs.sampledToken`);
  if (outputs.logitSum === undefined)
    v.fail(`${at}.outputs.logitSum`, 'a logit sum beside outputs.sampledToken', outputs.logitSum);
  if (outputs.sampleWeights === undefined && outputs.sampleMass === undefined) return;
  v.string(outputs.sampleWeights, `${at}.outputs.sampleWeights`);
  v.string(outputs.sampleMass, `${at}.outputs.sampleMass`);
}

/**
 * A plain-attention model's cache after each call: `outputs.cacheKey` and `outputs.cacheValue`
 * together, per-layer names, or neither.
 */
function validateCacheOutputs(
  v: Checker,
  outputs: Record<string, unknown>,
  at: string,
  attention: AttentionLayout,
): void {
  const named = outputs.cacheKey ?? outputs.cacheValue;
  if (named === undefined) return;
  if (attention !== 'plain')
    v.fail(`${at}.outputs.cacheKey`, `absent except for plain attention (found "${attention}")`, named);
  for (const key of ['cacheKey', 'cacheValue'] as const) {
    const name = v.string(outputs[key], `${at}.outputs.${key}`);
    if (!name.includes('{layer}')) v.fail(`${at}.outputs.${key}`, 'a name containing "{layer}"', name);
  }
}

/**
 * The draft distribution computed in the graph (`outputs.draftProbabilities`): an EAGLE head's
 * beside its top outputs, or a draft LM's with its top-k (`inputs.topK`, `outputs.topLogProbs`,
 * `outputs.topIds`) and entropy (`outputs.draftEntropy`), all four or none; never a target's.
 */
function validateDraftSummary(
  v: Checker,
  inputs: Record<string, unknown>,
  outputs: Record<string, unknown>,
  at: string,
  graph: GraphKind,
  role: ModelRole,
): void {
  if (outputs.draftProbabilities !== undefined) {
    if (graph === 'causal-lm' && role !== 'draft')
      v.fail(
        `${at}.outputs.draftProbabilities`,
        'absent except for an EAGLE head or a draft LM',
        outputs.draftProbabilities,
      );
    v.string(outputs.draftProbabilities, `${at}.outputs.draftProbabilities`);
  }
  if (graph !== 'causal-lm') return;
  const summary = [
    inputs.topK,
    outputs.topLogProbs,
    outputs.topIds,
    outputs.draftEntropy,
    outputs.draftProbabilities,
  ];
  if (summary.every((name) => name === undefined)) return;
  if (role !== 'draft')
    v.fail(`${at}.outputs.draftEntropy`, 'absent except for a draft LM', outputs.draftEntropy);
  v.string(inputs.topK, `${at}.inputs.topK`);
  for (const key of ['topLogProbs', 'topIds', 'draftEntropy', 'draftProbabilities'])
    v.string(outputs[key], `${at}.outputs.${key}`);
}

/**
 * A target's packed row outputs: `outputs.rowOutputs` beside the greedy outputs, and
 * `outputs.capturedRowOutputs` only beside it and `outputs.capturedFeature`.
 */
function validateRowOutputs(v: Checker, outputs: Record<string, unknown>, at: string, role: ModelRole): void {
  const named = outputs.rowOutputs ?? outputs.capturedRowOutputs;
  if (named === undefined) return;
  if (role !== 'target') v.fail(`${at}.outputs.rowOutputs`, 'absent except for a target', named);
  v.string(outputs.rowOutputs, `${at}.outputs.rowOutputs`);
  if (outputs.greedyToken === undefined || outputs.logitSum === undefined)
    v.fail(`${at}.outputs.greedyToken`, 'greedy outputs beside outputs.rowOutputs', outputs.greedyToken);
  if (outputs.capturedRowOutputs === undefined) return;
  v.string(outputs.capturedRowOutputs, `${at}.outputs.capturedRowOutputs`);
  if (outputs.capturedFeature === undefined)
    v.fail(
      `${at}.outputs.capturedFeature`,
      'a captured feature beside outputs.capturedRowOutputs',
      outputs.capturedFeature,
    );
}

/** Checks a draft→target table: `size` distinct integers below `vocab`. */
function validateTargetIds(v: Checker, value: unknown, field: string, size: number, vocab: number): void {
  const ids = v.array(value, field);
  if (ids.length !== size) v.fail(field, `an array of draftVocab.size (${size}) target ids`, ids.length);
  const seen = new Uint8Array(vocab);
  ids.forEach((id, d) => {
    if (!(Number.isInteger(id) && (id as number) >= 0 && (id as number) < vocab))
      v.fail(`${field}[${d}]`, `an integer in [0, dims.vocab ${vocab})`, id);
    if (seen[id as number]) v.fail(`${field}[${d}]`, 'a target id no other draft token has', id);
    seen[id as number] = 1;
  });
}

/** Field checks that throw a {@link ModelFormatError} naming the file and the field. */
class Checker {
  constructor(private readonly file: string) {}

  fail(field: string, expected: string, found: unknown): never {
    const where = field ? `field "${field}"` : 'the manifest';
    throw new ModelFormatError(`${where} must be ${expected}; found ${describeValue(found)}`, {
      file: this.file,
    });
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail(field, 'an object', value);
    return value as Record<string, unknown>;
  }

  array(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(field, 'an array', value);
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'a non-empty string', value);
    return value;
  }

  oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
    if (!allowed.includes(value as T))
      this.fail(field, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
    return value as T;
  }

  positiveInt(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
      this.fail(field, 'an integer >= 1', value);
    return value;
  }

  nonNegativeInt(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
      this.fail(field, 'an integer >= 0', value);
    return value;
  }

  positiveNumber(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      this.fail(field, 'a finite number > 0', value);
    return value;
  }

  fingerprint(value: unknown, field: string): void {
    const f = this.object(value, field);
    this.string(f.tensor, `${field}.tensor`);
    this.string(f.dtype, `${field}.dtype`);
    if (typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256))
      this.fail(`${field}.sha256`, 'a hex sha256', f.sha256);
  }
}
