import type { DynamicTreeOptions } from '@treespec/core';

/** File name of the manifest in a bundle (the folder holding the .onnx and tokenizer files). */
export const MANIFEST_FILE = 'treespec.json';

/** The file beside the manifest holding the sha256 of every model and weight file, as `sha256sum` writes them. */
export const CHECKSUMS_FILE = 'treespec.sha256';

/** Value of the manifest's `format` field. */
export const MANIFEST_FORMAT = 'treespec-models';

/**
 * Version of the manifest format this code writes. Version 2: EAGLE heads and draft LMs take a
 * required `score_rows` input (`inputs.scoreRows`), which a version-1 loader would not feed.
 * Version 3: targets take it too (a prefill's lm_head then covers its last row only), which a
 * version-2 loader would not feed. Version 4: an EAGLE-1/2 head with a reduced draft vocabulary may
 * also score tokens of the generation's context, fed per call as `context_ids`
 * (`inputs.contextIds`, `draftVocab.contextTokens`), which a version-3 loader would not feed.
 * Version 5: a target may draw each row's token in its graph, fed per call as `sample_uniforms` and
 * `sample_temperature` (`inputs.sampleUniforms`, `inputs.sampleTemperature`), which a version-4
 * loader would not feed.
 */
export const MANIFEST_VERSION = 5;

/**
 * Manifest versions this code reads: version 1 bundles lack `score_rows` and score every row;
 * version 2 targets lack it and score every row; heads before version 4 score no context tokens;
 * targets before version 5 draw no tokens in their graph.
 */
export const READABLE_MANIFEST_VERSIONS: readonly ManifestVersion[] = [1, 2, 3, 4, 5];

/** A manifest version this code reads. */
export type ManifestVersion = 1 | 2 | 3 | 4 | 5;

/**
 * What a model is for: the model being accelerated, an independent draft LM, an EAGLE-1/2 head or
 * an EAGLE-3 head.
 */
export type ModelRole = 'target' | 'draft' | 'eagle-head' | 'eagle3-head';

/** The graph contract a model file follows (see docs/onnx-layout.md). */
export type GraphKind = 'causal-lm' | 'eagle-head' | 'eagle3-head';

/** Element type of activations, KV entries and the attention bias. */
export type ActivationDtype = 'float32' | 'float16';

/**
 * How the weights of linear layers are stored in the ONNX file: `fp32` (`Gemm`), `fp16` (half
 * storage of the linear layers and the embedding, widened to float32 for the arithmetic), or
 * block-quantized `int8`/`int4` codes multiplied by ONNX Runtime's `com.microsoft.MatMulNBits` (see
 * {@link WeightQuantization}), or `w8a8`: int8 codes per output channel multiplied by `MatMulInteger`
 * with the activations quantized to int8 per row in the graph. Norms stay float32 in every format,
 * and so do embeddings except fp16's.
 */
export type WeightFormatName = 'fp32' | 'fp16' | 'int8' | 'int4' | 'w8a8';

/** Every {@link WeightFormatName}. */
export const WEIGHT_FORMATS: readonly WeightFormatName[] = ['fp32', 'fp16', 'int8', 'int4', 'w8a8'];

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

/**
 * Whether MatMulNBits at `accuracyLevel` rounds its activations: every level but 1 (float32) does,
 * to int8 (4), bf16 (3), fp16 (2), or to ONNX Runtime's pick (0), so a last-bit difference in an
 * activation can become another code.
 */
export function quantizesActivations(accuracyLevel: number): boolean {
  return accuracyLevel !== 1;
}

/**
 * Whether a model's linear layers round their activations: `w8a8` always does; `int8`/`int4` at
 * every MatMulNBits accuracy level but 1 ({@link quantizesActivations}; without a recorded
 * `quantization`, the converter's default level 4 is assumed).
 */
export function weightsQuantizeActivations(model: {
  readonly weightFormat: WeightFormatName;
  readonly quantization?: WeightQuantization;
}): boolean {
  if (model.weightFormat === 'w8a8') return true;
  if (model.weightFormat !== 'int8' && model.weightFormat !== 'int4') return false;
  return model.quantization === undefined || quantizesActivations(model.quantization.accuracyLevel);
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
  /** EAGLE heads, and draft LMs with `outputs.draftEntropy`: how many candidates the in-graph TopK returns. */
  readonly topK?: string;
  /**
   * How many trailing rows get `logits` (a head's `hidden` and top outputs too, a target's greedy
   * tokens and logit sums; the present keys and values and the features always cover every row).
   * A target's verification scores every row and its prefill only the last. Absent in models
   * converted before it existed (targets before manifest version 3), which score every row.
   */
  readonly scoreRows?: string;
  /**
   * EAGLE-1/2 heads with `draftVocab.contextTokens` only (manifest version 4): int64 [C], the
   * target ids of the generation's context tokens outside the draft vocabulary that the head also
   * scores (0 ≤ C ≤ `contextTokens`, distinct).
   */
  readonly contextIds?: string;
  /** EAGLE-3 heads only: the head's own hidden state fed to drafted rows (the rows after the fed ones). */
  readonly draftHidden?: string;
  /**
   * Targets with `outputs.sampledToken` only (manifest version 5): float32 [k, 2], two uniforms in
   * [0, 1) for each of the call's first k rows, from which `sampled_token` draws that row's token
   * (k = 0 when the call samples none).
   */
  readonly sampleUniforms?: string;
  /** Beside `sampleUniforms`: float32 [1], the temperature (> 0) the rows are sampled at. */
  readonly sampleTemperature?: string;
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
  /** EAGLE heads, and draft LMs with `draftEntropy`: top-k log-probabilities, best first. */
  readonly topLogProbs?: string;
  /** EAGLE heads, and draft LMs with `draftEntropy`: their token ids, always target vocabulary ids (mapped in-graph from a reduced draft vocabulary). */
  readonly topIds?: string;
  /**
   * Draft LMs: each scored row's exact entropy (nats) of its next-token distribution (float32
   * [1, scored]), computed in the graph beside `topLogProbs`, `topIds` (of `inputs.topK`
   * candidates) and `draftProbabilities`, so that a draft call need not take the softmax of
   * `rows × vocab` logits in JavaScript. Given with those; absent in bundles converted before
   * it existed (manifest version 5 readers ignore it).
   */
  readonly draftEntropy?: string;
  /**
   * Causal LMs converted for an EAGLE-3 head: each row's `feature` followed by the inputs of the
   * decoder layers `capturedLayers` ([1, new, (1 + capturedLayers.length) x hidden]).
   */
  readonly capturedFeature?: string;
  /**
   * Targets: each row's greedy token, the first index of its largest logit (int32 [1, new]),
   * computed in the graph so that greedy verification need not fetch `rows × vocab` logits.
   * Given with `logitSum`; absent in bundles converted before it existed.
   */
  readonly greedyToken?: string;
  /**
   * Targets, beside `greedyToken`: each row's sum of logits (float32 [1, new]), finite exactly
   * when every logit of the row is (a NaN or an infinity anywhere makes the sum non-finite).
   */
  readonly logitSum?: string;
  /**
   * Targets, beside `greedyToken` (manifest version 5): the token drawn for each of the first k
   * rows (int32 [1, k], k the rows of `sampleUniforms`) from the softmax of its logits at
   * `sampleTemperature`: a block of the vocabulary by the first uniform, a token of it by the
   * second (docs/onnx-layout.md), so that sampling at a temperature alone need not fetch
   * `rows × vocab` logits.
   */
  readonly sampledToken?: string;
  /**
   * Targets, beside `sampledToken`: each of the first k rows' softmax weights at
   * `sampleTemperature`, `exp((logit − the row's largest) / temperature)` (float32 [1, k, vocab]),
   * unnormalised, so that verifying a tree drawn from a draft distribution need not fetch the
   * logits and take their softmax in JavaScript. Given with `sampleMass`; absent in bundles
   * converted before it existed (manifest version 5 readers ignore it).
   */
  readonly sampleWeights?: string;
  /** Beside `sampleWeights`: each of those rows' sum of weights (float32 [1, k]), as the sampler sums them. */
  readonly sampleMass?: string;
  /**
   * Plain attention only: each layer's keys after the call, its `past_*` rows followed by the
   * call's new entries ([1, past + new, kvHeads, headDim]), the concatenation attention reads
   * anyway, so that a cache kept on the device takes it as its next past instead of appending the
   * new entries in a call of its own. Given with `cacheValue`; absent in bundles converted before it
   * existed (manifest version 5 readers ignore it).
   */
  readonly cacheKey?: string;
  /** Beside `cacheKey`: each layer's values after the call. */
  readonly cacheValue?: string;
  /**
   * Targets, beside `greedyToken`: what a call's rows give the host, in one float32 tensor
   * [1, n]: the `feature` of each new row (new × hidden), each scored row's greedy token, then their
   * logit sums, then the token drawn for each sampled row (tokens as floats, exact below 2^24), so
   * that a cache on a GPU, whose other outputs stay on the device, downloads one tensor a call.
   * Absent in bundles converted before it existed (manifest version 5 readers ignore it).
   */
  readonly rowOutputs?: string;
  /** Targets with `capturedFeature`, beside `rowOutputs`: the same with `capturedFeature`'s rows first. */
  readonly capturedRowOutputs?: string;
  /**
   * Causal LMs with plain or in-place attention: every layer's new entries in one tensor [1, n],
   * layer by layer, each layer's `presentKey` then its `presentValue`, each flattened as that
   * output is, so that a cache in host memory fetches one tensor a call instead of two per layer
   * (each fetched output costs the binding an allocation, a copy and a tensor object). Absent in
   * bundles converted before it existed (manifest version 5 readers ignore it).
   */
  readonly presentRows?: string;
  /**
   * EAGLE heads: what a call gives the host, in one float32 tensor [1, n]: `hidden` of each scored
   * row (scored × hidden), then their `topLogProbs` (scored × k), then their `topIds` as floats
   * (exact below 2^24), so that a head whose cache stays on a GPU waits for one download at the end
   * of a call instead of one per output. Absent in bundles converted before it existed (manifest
   * version 5 readers ignore it).
   */
  readonly stepOutputs?: string;
  /**
   * EAGLE heads, and draft LMs with `draftEntropy`: each scored row's draft distribution at
   * temperature 1 (float32 [1, scored, columns]): the softmax of its `logits`, and for a head that
   * scores context tokens
   * (`inputs.contextIds`) of those logits followed by the context tokens' (the columns its top-k
   * ranks), computed in the graph so that drawing a sampled draft tree at temperature 1 need not
   * take the softmax of `rows × columns` logits in JavaScript. Absent in bundles converted before
   * it existed (manifest version 5 readers ignore it).
   */
  readonly draftProbabilities?: string;
}

/**
 * How a causal LM's attention is built: `plain` MatMul/Softmax ops over the cache concatenated
 * with the new rows (every provider); `in-place`, the same ops reading a head-major cache buffer
 * where it lies (its rows past the cached ones masked by the bias, `present_*` the new rows
 * head-major; targets only); or `fused` `com.microsoft.GroupQueryAttention` over a cache buffer
 * its `past_*` and `present_*` share.
 */
export type AttentionLayout = 'plain' | 'in-place' | 'fused';

/** How the KV cache is shaped and what `present_*` holds. */
export interface KvCacheInfo {
  /**
   * Axis order of `past_*`/`present_*`: `bsnh` (batch, sequence, kv-head, head-dim) for plain
   * attention, `bnsh` (batch, kv-head, sequence, head-dim) for in-place and fused.
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

/**
 * A reduced draft vocabulary: the model multiplies only the lm_head rows of `size` target tokens,
 * and its graph maps them back to target ids through a draft→target table stored as an
 * initializer, so every runner sees target ids: heads map their top-k ids (their `logits` cover
 * the draft tokens only), draft LMs spread their logits over the whole vocabulary (other tokens at
 * -1e30). EAGLE-3 heads bring theirs (`d2t`); FR-Spec keeps the most frequent tokens of a corpus.
 */
export interface DraftVocabulary {
  /** Draft tokens (rows of the draft lm_head). */
  readonly size: number;
  /** `eagle3-d2t`: the head's own `d2t`; `frequency`: the `size` most frequent tokens of `corpus`. */
  readonly source: 'eagle3-d2t' | 'frequency';
  /** `frequency` only: the file the tokens were counted in (its name) and how many tokens it held. */
  readonly corpus?: { readonly file: string; readonly tokens: number };
  /** Share of the counted tokens the draft vocabulary covers, when known. */
  readonly coverage?: number;
  /**
   * The graph's draft→target table: draft token d (column d of the model's `logits`) is target
   * token `targetIds[d]`; `size` distinct ids below `dims.vocab`. Runners that sample over the
   * draft vocabulary need it; absent in bundles converted before it was recorded.
   */
  readonly targetIds?: readonly number[];
  /**
   * EAGLE-1/2 heads (manifest version 4): besides the `size` draft tokens, the head scores up to
   * this many tokens of the generation's context outside them, fed per call as `inputs.contextIds`;
   * its top-k then ranks both together. `logits` stay over the draft tokens.
   */
  readonly contextTokens?: number;
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
  /**
   * Causal LMs with plain attention: `float64` when the sums over the keys (the softmax's total and
   * the weighted values) run in float64, so that each row of a tree verification equals the plain
   * step of its path bit for bit. Absent means float32 (fine for float activations; a target whose
   * weights quantize activations can then decode a token differently under speculation).
   */
  readonly attentionPrecision?: 'float32' | 'float64';
  readonly kvCache: KvCacheInfo;
  readonly rope: RopeInfo;
  readonly rmsNormEps: number;
  /**
   * Which hidden state `outputs.feature` (causal LMs) holds, or `inputs.feature` (heads) expects:
   * the last hidden state after the final norm (the lm_head input), or for EAGLE-3 heads the
   * target's captured layer inputs (`captured-layers`, see {@link ManifestModel.capturedLayers}).
   */
  readonly feature: 'final-norm' | 'captured-layers';
  /**
   * Targets converted for an EAGLE-3 head: the decoder layers whose inputs `outputs.capturedFeature`
   * holds, ascending. EAGLE-3 heads: the layers they were trained on.
   */
  readonly capturedLayers?: readonly number[];
  /** Heads and draft LMs whose logits cover a reduced draft vocabulary. */
  readonly draftVocab?: DraftVocabulary;
  readonly tokenizer: TokenizerInfo;
  readonly source: ModelSource;
  /** Fingerprint of this model's own lm_head (causal LMs). */
  readonly lmHead?: WeightFingerprint;
  /** EAGLE heads: the base model they belong to. */
  readonly base?: BaseModelInfo;
}

/** Where a bundle's models can run: the keys of the manifest's `tuning` section. */
export type BundleDevice = 'cpu' | 'wasm' | 'webgpu' | 'cuda';

/** Every {@link BundleDevice}. */
export const BUNDLE_DEVICES: readonly BundleDevice[] = ['cpu', 'wasm', 'webgpu', 'cuda'];

/** Tree budgets measured for one device (`treespec tune --write` writes them). */
export interface DeviceTuning {
  /** The EAGLE-2 drafter's budget. */
  readonly tree?: DynamicTreeOptions;
  /** The draft LM's budget. */
  readonly draftTree?: DynamicTreeOptions;
}

/** The content of a `treespec.json`. */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: ManifestVersion;
  /** Converter that wrote it, e.g. `@treespec/convert 0.1.0`. */
  readonly generator: string;
  readonly models: readonly ManifestModel[];
  /** Optional: the bundle's own tree budgets per device, over the device presets and under call options. */
  readonly tuning?: Readonly<Partial<Record<BundleDevice, DeviceTuning>>>;
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

/**
 * Input and output names every target gets: a causal LM's, `score_rows`, each row's greedy token
 * and logit sum, and the tokens it draws from uniforms it is fed.
 */
export const TARGET_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: {
    ...CAUSAL_LM_IO.inputs,
    scoreRows: 'score_rows',
    sampleUniforms: 'sample_uniforms',
    sampleTemperature: 'sample_temperature',
  },
  outputs: {
    ...CAUSAL_LM_IO.outputs,
    greedyToken: 'greedy_token',
    logitSum: 'logit_sum',
    sampledToken: 'sampled_token',
    sampleWeights: 'sample_weights',
    sampleMass: 'sample_mass',
    rowOutputs: 'row_outputs',
  },
};

/** Input and output names every draft LM gets: a causal LM's, and `score_rows`. */
export const DRAFT_LM_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: { ...CAUSAL_LM_IO.inputs, scoreRows: 'score_rows' },
  outputs: CAUSAL_LM_IO.outputs,
};

/**
 * What a draft LM gets besides {@link DRAFT_LM_IO}: its scored rows' top-k (of `top_k`
 * candidates), entropy and distribution, computed in the graph (`ModelOutputs.draftEntropy`).
 */
export const DRAFT_LM_SUMMARY = {
  inputs: { topK: 'top_k' },
  outputs: {
    topLogProbs: 'top_log_probs',
    topIds: 'top_ids',
    draftEntropy: 'draft_entropy',
    draftProbabilities: 'draft_probabilities',
  },
} as const satisfies { inputs: Partial<ModelInputs>; outputs: Partial<ModelOutputs> };

/** Input and output names every EAGLE head gets unless its manifest says otherwise. */
export const EAGLE_HEAD_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: { ...CAUSAL_LM_IO.inputs, feature: 'feature', topK: 'top_k', scoreRows: 'score_rows' },
  outputs: {
    logits: 'logits',
    hidden: 'hidden',
    topLogProbs: 'top_log_probs',
    topIds: 'top_ids',
    presentKey: 'present_key.{layer}',
    presentValue: 'present_value.{layer}',
  },
};

/** Input and output names of an EAGLE-1/2 head that scores context tokens (`draftVocab.contextTokens`). */
export const EAGLE_HEAD_CONTEXT_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: { ...EAGLE_HEAD_IO.inputs, contextIds: 'context_ids' },
  outputs: EAGLE_HEAD_IO.outputs,
};

/** Input and output names every EAGLE-3 head gets unless its manifest says otherwise. */
export const EAGLE3_HEAD_IO: { readonly inputs: ModelInputs; readonly outputs: ModelOutputs } = {
  inputs: { ...EAGLE_HEAD_IO.inputs, draftHidden: 'draft_hidden' },
  outputs: EAGLE_HEAD_IO.outputs,
};

/**
 * The outputs every plain-attention model gets besides its IO names: each layer's cache after the
 * call (`ModelOutputs.cacheKey`, `ModelOutputs.cacheValue`).
 */
export const PLAIN_CACHE_OUTPUTS = {
  cacheKey: 'cache_key.{layer}',
  cacheValue: 'cache_value.{layer}',
} as const satisfies Partial<ModelOutputs>;

/**
 * The output every causal LM without fused attention gets besides its IO names: every layer's new
 * entries in one tensor (`ModelOutputs.presentRows`).
 */
export const PRESENT_ROWS_OUTPUT = { presentRows: 'present_rows' } as const satisfies Partial<ModelOutputs>;

/**
 * The outputs every EAGLE head gets besides its IO names: its step's outputs in one tensor
 * (`ModelOutputs.stepOutputs`) and its scored rows' draft distributions (`ModelOutputs.draftProbabilities`).
 */
export const HEAD_STEP_OUTPUTS = {
  stepOutputs: 'step_outputs',
  draftProbabilities: 'draft_probabilities',
} as const satisfies Partial<ModelOutputs>;

/** Inputs a bundle converted before they existed (manifest version 1) lacks; the runners work without them. */
export const OPTIONAL_INPUTS: ReadonlySet<keyof ModelInputs> = new Set(['scoreRows']);

/** Output name of the captured layer inputs of a causal LM converted for an EAGLE-3 head. */
export const CAPTURED_FEATURE_OUTPUT = 'captured_feature';

/** Output name of a target's row outputs over its captured states (`ModelOutputs.capturedRowOutputs`). */
export const CAPTURED_ROW_OUTPUTS = 'captured_row_outputs';

/** Expands a per-layer name such as `past_key.{layer}` for one layer. */
export function layerName(pattern: string, layer: number): string {
  return pattern.replaceAll('{layer}', String(layer));
}
