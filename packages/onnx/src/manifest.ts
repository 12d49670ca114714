import { describeValue, ModelFormatError } from '@treespec/core';

/** File name of the manifest in a model directory. */
export const MANIFEST_FILE = 'treespec.json';

/** Value of the manifest's `format` field. */
export const MANIFEST_FORMAT = 'treespec-models';

/** Version of the manifest format this code reads and writes. */
export const MANIFEST_VERSION = 1;

/** What a model is for: the model being accelerated, an independent draft LM, or an EAGLE-1/2 head. */
export type ModelRole = 'target' | 'draft' | 'eagle-head';

/** The graph contract a model file follows (see docs/onnx-layout.md). */
export type GraphKind = 'causal-lm' | 'eagle-head';

/** Element type of activations, KV entries and the attention bias. */
export type ActivationDtype = 'float32' | 'float16';

/**
 * How the weights of linear layers are stored in the ONNX file: `fp32` (`Gemm`), `fp16` (half
 * storage of the linear layers and the embedding, widened to float32 for the arithmetic), or
 * block-quantized `int8`/`int4` codes multiplied by ONNX Runtime's `com.microsoft.MatMulNBits` (see
 * {@link WeightQuantization}). Norms stay float32 in every format, and so do embeddings except fp16's.
 */
export type WeightFormatName = 'fp32' | 'fp16' | 'int8' | 'int4';

/** Every {@link WeightFormatName}. */
export const WEIGHT_FORMATS: readonly WeightFormatName[] = ['fp32', 'fp16', 'int8', 'int4'];

/** Bits per weight of the quantized formats. */
export const QUANTIZED_BITS: Readonly<Partial<Record<WeightFormatName, 4 | 8>>> = { int8: 8, int4: 4 };

/** How the linear layers of an `int8`/`int4` model are quantized (manifest field `quantization`). */
export interface WeightQuantization {
  /** The operator that multiplies them. */
  readonly op: 'com.microsoft.MatMulNBits';
  /** 8 for `int8`, 4 for `int4`. */
  readonly bits: 4 | 8;
  /** Weights along the input dimension sharing one scale (a power of two, at least 16). */
  readonly blockSize: number;
  /** Without stored zero points (the implicit `2^(bits-1)`) when true. */
  readonly symmetric: boolean;
  /** MatMulNBits' `accuracy_level`: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 compute. */
  readonly accuracyLevel: number;
}

/** RoPE frequency scheme baked into the model's cos/sin tables. */
export interface RopeInfo {
  /** `default`, `linear`, `llama3` or `yarn`. */
  readonly type: 'default' | 'linear' | 'llama3' | 'yarn';
  /** Base of the inverse frequencies. */
  readonly theta: number;
  /** Remaining parameters of the scheme as found in the checkpoint's config (factor, …). */
  readonly parameters?: Readonly<Record<string, number>>;
}

/** Layer counts and widths. */
export interface ModelDims {
  readonly vocab: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediate: number;
  /** Largest position id the model's RoPE tables hold, plus one. */
  readonly maxContext: number;
}

/** Names of a model's graph inputs. Per-layer names contain `{layer}`. */
export interface ModelInputs {
  readonly inputIds: string;
  readonly positionIds: string;
  readonly attentionBias: string;
  readonly pastKey: string;
  readonly pastValue: string;
  /** EAGLE heads only: the feature paired with each row. */
  readonly feature?: string;
  /** EAGLE heads only: how many candidates the in-graph TopK returns. */
  readonly topK?: string;
}

/** Names of a model's graph outputs. Per-layer names contain `{layer}`. */
export interface ModelOutputs {
  readonly logits: string;
  readonly presentKey: string;
  readonly presentValue: string;
  /** Causal LMs: the last hidden state after the final norm (the EAGLE feature). */
  readonly feature?: string;
  /** EAGLE heads: the predicted next feature, un-normalised. */
  readonly hidden?: string;
  /** EAGLE heads: top-k log-probabilities, best first. */
  readonly topLogProbs?: string;
  /** EAGLE heads: their token ids. */
  readonly topIds?: string;
}

/**
 * How a causal LM's attention is built: `plain` MatMul/Softmax ops (every provider), or `fused`
 * `com.microsoft.GroupQueryAttention` over a cache buffer its `past_*` and `present_*` share.
 */
export type AttentionLayout = 'plain' | 'fused';

/** How the KV cache is shaped and what `present_*` holds. */
export interface KvCacheInfo {
  /**
   * Axis order of `past_*`/`present_*`: `bsnh` (batch, sequence, kv-head, head-dim) for plain
   * attention, `bnsh` (batch, kv-head, sequence, head-dim) for fused.
   */
  readonly layout: 'bsnh' | 'bnsh';
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: ActivationDtype;
  /** Keys are cached after RoPE. */
  readonly keysRotated: true;
  /**
   * `new-only`: `present_*` holds only the new entries of the call. `shared`: `past_*` and
   * `present_*` are one buffer of capacity rows, bound to both by the runner, that the model
   * writes the call's entries into after the first `past` rows.
   */
  readonly present: 'new-only' | 'shared';
}

/** The tokenizer a model was trained with. */
export interface TokenizerInfo {
  /** Tokenizer files in the manifest's directory (tokenizer.json first). */
  readonly files: readonly string[];
  /** Hex sha256 of tokenizer.json: two models fit together only when these are equal. */
  readonly sha256: string;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
}

/** Fingerprint of a weight tensor: sha256 of its bytes as stored in the source checkpoint. */
export interface WeightFingerprint {
  readonly tensor: string;
  readonly dtype: string;
  readonly sha256: string;
}

/** Where a model came from. */
export interface ModelSource {
  /** Architecture named in the checkpoint's config (e.g. `LlamaForCausalLM`). */
  readonly architecture: string;
  /** `model_type` in the config. */
  readonly modelType: string;
  /** Folder name of the checkpoint. */
  readonly checkpoint: string;
}

/** The base model an EAGLE head was converted against. */
export interface BaseModelInfo {
  /** Id of the base model's manifest entry when it was in the same directory, else its checkpoint name. */
  readonly id: string;
  /** Fingerprint of the base model's lm_head, which the head uses. */
  readonly lmHead: WeightFingerprint;
}

/** One model of a manifest. */
export interface ManifestModel {
  /** Unique within the manifest, e.g. `target`. */
  readonly id: string;
  readonly role: ModelRole;
  readonly graph: GraphKind;
  /** The .onnx file, relative to the manifest. */
  readonly file: string;
  /** External data files the .onnx file refers to, relative to the manifest. */
  readonly externalData: readonly string[];
  /** Element type of activations and of every floating input/output except `logits` (always float32). */
  readonly dtype: ActivationDtype;
  readonly weightFormat: WeightFormatName;
  /** `int8`/`int4` models: how the linear layers are quantized. Optional (informational). */
  readonly quantization?: WeightQuantization;
  readonly dims: ModelDims;
  readonly inputs: ModelInputs;
  readonly outputs: ModelOutputs;
  /** Causal LMs: how attention is built. Absent means `plain`. */
  readonly attention?: AttentionLayout;
  readonly kvCache: KvCacheInfo;
  readonly rope: RopeInfo;
  readonly rmsNormEps: number;
  /**
   * Which hidden state `outputs.feature` (causal LMs) holds, or `inputs.feature` (heads) expects:
   * always the last hidden state after the final norm (the lm_head input).
   */
  readonly feature: 'final-norm';
  readonly tokenizer: TokenizerInfo;
  readonly source: ModelSource;
  /** Fingerprint of this model's own lm_head (causal LMs). */
  readonly lmHead?: WeightFingerprint;
  /** EAGLE heads: the base model they belong to. */
  readonly base?: BaseModelInfo;
}

/** The content of a `treespec.json`. */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  /** Converter that wrote it, e.g. `@treespec/convert 0.1.0`. */
  readonly generator: string;
  readonly models: readonly ManifestModel[];
}

/** Input and output names every causal LM gets unless its manifest says otherwise. */
export const CAUSAL_LM_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: {
    inputIds: 'input_ids',
    positionIds: 'position_ids',
    attentionBias: 'attention_bias',
    pastKey: 'past_key.{layer}',
    pastValue: 'past_value.{layer}',
  },
  outputs: {
    logits: 'logits',
    feature: 'feature',
    presentKey: 'present_key.{layer}',
    presentValue: 'present_value.{layer}',
  },
};

/** Input and output names every EAGLE head gets unless its manifest says otherwise. */
export const EAGLE_HEAD_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: { ...CAUSAL_LM_IO.inputs, feature: 'feature', topK: 'top_k' },
  outputs: {
    logits: 'logits',
    hidden: 'hidden',
    topLogProbs: 'top_log_probs',
    topIds: 'top_ids',
    presentKey: 'present_key.{layer}',
    presentValue: 'present_value.{layer}',
  },
};

/** Expands a per-layer name such as `past_key.{layer}` for one layer. */
export function layerName(pattern: string, layer: number): string {
  return pattern.replaceAll('{layer}', String(layer));
}

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
  if (root.version !== MANIFEST_VERSION) {
    v.fail('version', `${MANIFEST_VERSION} (the manifest version this @treespec/onnx reads)`, root.version);
  }
  v.string(root.generator, 'generator');
  const models = v.array(root.models, 'models');
  if (models.length === 0) v.fail('models', 'at least one model', models);
  const ids = new Set<string>();
  models.forEach((m, i) => {
    const model = validateModel(v, m, `models[${i}]`);
    if (ids.has(model.id)) v.fail(`models[${i}].id`, 'an id not used by another model', model.id);
    ids.add(model.id);
  });
  return value as Manifest;
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

/** Thrown when two models cannot work together; names both files and both values. */
export class ModelMismatchError extends ModelFormatError {
  /** The property that differs, e.g. `vocab`. */
  readonly property: string;
  readonly targetFile: string;
  readonly partnerFile: string;
  readonly targetValue: unknown;
  readonly partnerValue: unknown;

  constructor(
    property: string,
    target: { file: string; value: unknown },
    partner: { file: string; role: string; value: unknown },
  ) {
    super(
      `${partner.role} ${partner.file} does not fit target ${target.file}: ${property} is ` +
        `${describeValue(partner.value)} in ${partner.file} but ${describeValue(target.value)} in ${target.file}`,
      { code: 'MODEL_MISMATCH' },
    );
    this.property = property;
    this.targetFile = target.file;
    this.partnerFile = partner.file;
    this.targetValue = target.value;
    this.partnerValue = partner.value;
  }
}

/** Where the two models of {@link checkModelPair} live, for its messages. */
export interface ModelPairFiles {
  /** Path shown for the target; default its manifest `file`. */
  readonly target?: string;
  /** Path shown for the partner; default its manifest `file`. */
  readonly partner?: string;
}

/**
 * Checks that `partner` (a draft LM or an EAGLE head) can work with `target`: same vocabulary size,
 * same tokenizer, and for heads the same hidden size and feature, and the target's lm_head.
 * @throws ModelMismatchError naming both files and both values of the first property that differs.
 */
export function checkModelPair(
  target: ManifestModel,
  partner: ManifestModel,
  files: ModelPairFiles = {},
): void {
  const targetFile = files.target ?? target.file;
  const partnerFile = files.partner ?? partner.file;
  const same = (property: string, a: unknown, b: unknown) => {
    if (a !== b) {
      throw new ModelMismatchError(
        property,
        { file: targetFile, value: a },
        { file: partnerFile, role: partner.role, value: b },
      );
    }
  };
  if (target.role !== 'target') {
    throw new ModelFormatError(`expected a model with role "target"; found role "${target.role}"`, {
      file: targetFile,
      code: 'MODEL_MISMATCH',
    });
  }
  if (partner.role === 'target') {
    throw new ModelFormatError(
      `expected a partner with role "draft" or "eagle-head" for ${targetFile}; found role "target"`,
      {
        file: partnerFile,
        code: 'MODEL_MISMATCH',
      },
    );
  }
  same('vocab size', target.dims.vocab, partner.dims.vocab);
  same('tokenizer.json sha256', target.tokenizer.sha256, partner.tokenizer.sha256);
  if (partner.role === 'eagle-head') {
    same('hidden size', target.dims.hidden, partner.dims.hidden);
    same('feature', target.feature, partner.feature);
    if (target.lmHead && partner.base)
      same('lm_head sha256', target.lmHead.sha256, partner.base.lmHead.sha256);
  }
}

function validateModel(v: Checker, value: unknown, at: string): ManifestModel {
  const m = v.object(value, at);
  v.string(m.id, `${at}.id`);
  const role = v.oneOf(m.role, `${at}.role`, ['target', 'draft', 'eagle-head'] as const);
  const graph = v.oneOf(m.graph, `${at}.graph`, ['causal-lm', 'eagle-head'] as const);
  if ((role === 'eagle-head') !== (graph === 'eagle-head')) {
    v.fail(`${at}.graph`, role === 'eagle-head' ? '"eagle-head"' : '"causal-lm"', graph);
  }
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
  const need = graph === 'eagle-head' ? EAGLE_HEAD_IO : CAUSAL_LM_IO;
  for (const key of Object.keys(need.inputs)) v.string(inputs[key], `${at}.inputs.${key}`);
  for (const key of Object.keys(need.outputs)) v.string(outputs[key], `${at}.outputs.${key}`);
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
  const attention = v.oneOf(m.attention ?? 'plain', `${at}.attention`, ['plain', 'fused'] as const);
  if (attention === 'fused' && graph !== 'causal-lm')
    v.fail(`${at}.attention`, '"plain" for an EAGLE head', attention);
  const fused = attention === 'fused';
  const kv = v.object(m.kvCache, `${at}.kvCache`);
  const layout = fused ? 'bnsh' : 'bsnh';
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
  if (m.feature !== 'final-norm') v.fail(`${at}.feature`, '"final-norm"', m.feature);
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
  if (role === 'eagle-head') {
    const base = v.object(m.base, `${at}.base`);
    v.string(base.id, `${at}.base.id`);
    v.fingerprint(base.lmHead, `${at}.base.lmHead`);
  }
  return m as unknown as ManifestModel;
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
