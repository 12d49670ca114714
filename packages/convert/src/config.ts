import { CheckpointError } from './errors.js';
import { parseRope, type RopeConfig } from './rope.js';

/** Model families the converter knows, keyed by the `architectures` entry of config.json. */
export const SUPPORTED_ARCHITECTURES = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
} as const;

/** A supported family. */
export type ModelFamily = (typeof SUPPORTED_ARCHITECTURES)[keyof typeof SUPPORTED_ARCHITECTURES];

/** Which optional tensors a decoder layer has. */
export interface LayerFeatures {
  /** q/k/v projections carry a bias (Qwen2; Llama with `attention_bias`). */
  readonly qkvBias: boolean;
  /** o_proj carries a bias (Llama/Qwen3 with `attention_bias`). */
  readonly outputBias: boolean;
  /** gate/up/down carry a bias (`mlp_bias`). */
  readonly mlpBias: boolean;
  /** RMSNorm over each query and key head before RoPE (Qwen3). */
  readonly qkNorm: boolean;
}

/** The settings of a Llama-family decoder that the graph depends on. */
export interface DecoderConfig {
  /** The config.json this came from. */
  readonly file: string;
  readonly architecture: string;
  readonly modelType: string;
  readonly family: ModelFamily;
  readonly vocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly rope: RopeConfig;
  /** Positions the model supports (max_position_embeddings, or a smaller sliding window). */
  readonly maxPositions: number;
  /** The config field `maxPositions` comes from. */
  readonly maxPositionsField: 'max_position_embeddings' | 'sliding_window';
  readonly tieWordEmbeddings: boolean;
  readonly layer: LayerFeatures;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
}

/** An EAGLE-1/2 head: one decoder layer without input norm behind fc(concat(embedding, feature)). */
export interface EagleHeadConfig extends DecoderConfig {
  /** fc has a bias (`bias` in EAGLE's configs); null when the config does not say (then the weights decide). */
  readonly fcBias: boolean | null;
}

/**
 * Parses a causal LM's config.json (already JSON-decoded).
 * @throws CheckpointError `unknown-architecture`, `unsupported-config` or `bad-config`, naming `file`.
 */
export function parseDecoderConfig(json: unknown, file: string): DecoderConfig {
  const c = asObject(json, file);
  const architectures = c.architectures;
  if (typeof architectures === 'string') {
    throw new CheckpointError(
      'bad-config',
      file,
      `"architectures" must be a list, as transformers writes it: ["${architectures}"]; found the string "${architectures}"`,
    );
  }
  const architecture = Array.isArray(architectures) ? String(architectures[0]) : undefined;
  if (!architecture || !(architecture in SUPPORTED_ARCHITECTURES)) {
    // An EAGLE-3 head's config converted as a model: say which role reads it.
    const head =
      architecture === EAGLE3_ARCHITECTURE
        ? '; an EAGLE-3 head is converted with --role eagle-head --target <its target checkpoint>'
        : '';
    throw new CheckpointError(
      'unknown-architecture',
      file,
      `architecture ${JSON.stringify(architectures ?? null)} is not supported; expected one of ${Object.keys(
        SUPPORTED_ARCHITECTURES,
      ).join(', ')}${head}`,
    );
  }
  const family = SUPPORTED_ARCHITECTURES[architecture as keyof typeof SUPPORTED_ARCHITECTURES];
  return parseCommon(c, file, architecture, family);
}

/**
 * Parses an EAGLE-1/2 head's config.json: a LlamaConfig-like file with `num_hidden_layers` 1
 * (EAGLE's published configs say `LlamaForCausalLM` whatever the base model is).
 * @throws CheckpointError naming `file` when it is not one.
 */
export function parseEagleHeadConfig(json: unknown, file: string): EagleHeadConfig {
  const c = asObject(json, file);
  const architectures = c.architectures;
  const architecture = Array.isArray(architectures) ? String(architectures[0]) : 'LlamaForCausalLM';
  const family = SUPPORTED_ARCHITECTURES[architecture as keyof typeof SUPPORTED_ARCHITECTURES] ?? 'llama';
  const config = parseCommon(c, file, architecture, family);
  if (config.layers !== 1) {
    throw new CheckpointError(
      'unsupported-config',
      file,
      `an EAGLE-1/2 head has num_hidden_layers 1; found ${config.layers}`,
    );
  }
  return { ...config, fcBias: typeof c.bias === 'boolean' ? c.bias : null };
}

/** An EAGLE-3 head: one decoder layer over concat(embedding, hidden) with its own lm_head over a draft vocabulary. */
export interface Eagle3HeadConfig extends DecoderConfig {
  /** Rows of the head's lm_head (`draft_vocab_size`; the target vocabulary when absent). */
  readonly draftVocab: number;
  /** Target layers whose inputs the head fuses, when the config names them; else the reference rule applies. */
  readonly capturedLayers: readonly number[] | null;
}

/** The `architectures` entry of an EAGLE-3 head's config.json. */
export const EAGLE3_ARCHITECTURE = 'LlamaForCausalLMEagle3';

/**
 * Parses an EAGLE-3 head's config.json (`architectures: ["LlamaForCausalLMEagle3"]`,
 * `num_hidden_layers` 1, `draft_vocab_size`, optional `eagle_aux_hidden_state_layer_ids`, also
 * inside `eagle_config`).
 * @throws CheckpointError naming `file` when it is not one.
 */
export function parseEagle3HeadConfig(json: unknown, file: string): Eagle3HeadConfig {
  const c = asObject(json, file);
  const config = parseCommon(c, file, EAGLE3_ARCHITECTURE, 'llama');
  if (config.layers !== 1) {
    throw new CheckpointError(
      'unsupported-config',
      file,
      `an EAGLE-3 head has num_hidden_layers 1; found ${config.layers}`,
    );
  }
  const draftVocab = c.draft_vocab_size ?? config.vocab;
  if (
    typeof draftVocab !== 'number' ||
    !Number.isInteger(draftVocab) ||
    draftVocab < 1 ||
    draftVocab > config.vocab
  ) {
    throw new CheckpointError(
      'bad-config',
      file,
      `"draft_vocab_size" must be an integer in [1, vocab_size ${config.vocab}]; found ${JSON.stringify(draftVocab)}`,
    );
  }
  const nested = c.eagle_config;
  const ids =
    c.eagle_aux_hidden_state_layer_ids ??
    (typeof nested === 'object' && nested !== null
      ? (nested as Record<string, unknown>).eagle_aux_hidden_state_layer_ids
      : undefined);
  if (
    ids !== undefined &&
    (!Array.isArray(ids) || ids.length === 0 || ids.some((l) => !Number.isInteger(l) || (l as number) < 0))
  ) {
    throw new CheckpointError(
      'bad-config',
      file,
      `"eagle_aux_hidden_state_layer_ids" must be a list of layer indices; found ${JSON.stringify(ids)}`,
    );
  }
  return { ...config, draftVocab, capturedLayers: (ids as number[] | undefined) ?? null };
}

/**
 * The target layers whose inputs an EAGLE-3 head fuses by default: EAGLE's reference rule,
 * layers 2, L // 2 and L − 3 of an L-layer target.
 */
export function defaultCapturedLayers(targetLayers: number): number[] {
  return [2, Math.floor(targetLayers / 2), targetLayers - 3];
}

/**
 * The captured layers of an `layers`-layer target: `reference` gives {@link defaultCapturedLayers}.
 * @throws CheckpointError `mismatch` naming `file` when a layer is not below `layers`, or they are not ascending.
 */
export function capturedLayersFor(
  requested: readonly number[] | 'reference',
  layers: number,
  file: string,
): number[] {
  const list = requested === 'reference' ? defaultCapturedLayers(layers) : [...requested];
  const ok =
    list.length > 0 &&
    list.every((l, i) => Number.isInteger(l) && l >= 0 && l < layers && (i === 0 || l > list[i - 1]!));
  if (!ok) {
    throw new CheckpointError(
      'mismatch',
      file,
      `the EAGLE-3 captured layers must be ascending layer indices below the target's ${layers} layers; found [${list.join(', ')}]`,
    );
  }
  return list;
}

/** Which EAGLE head layout a checkpoint directory holds, from its config and tensor names. */
export type HeadLayout = 'eagle' | 'eagle3';

/**
 * Recognises an EAGLE-1/2 head (`fc.weight` over 2H, `layers.0.*`) or an EAGLE-3 head
 * (`LlamaForCausalLMEagle3`, `midlayer.*`, `d2t`).
 * @throws CheckpointError `unknown-architecture` naming `file` for anything else.
 */
export function recognizeHeadLayout(json: unknown, tensorNames: readonly string[], file: string): HeadLayout {
  const c = asObject(json, file);
  const architecture = Array.isArray(c.architectures) ? String(c.architectures[0]) : undefined;
  const names = new Set(tensorNames);
  const midlayer = tensorNames.some((n) => n.startsWith('midlayer.'));
  if (architecture === EAGLE3_ARCHITECTURE || midlayer || names.has('d2t')) {
    if (architecture === EAGLE3_ARCHITECTURE && midlayer && names.has('fc.weight')) return 'eagle3';
    throw new CheckpointError(
      'unknown-architecture',
      file,
      `looks like an EAGLE-3 head but is not in the published layout: expected architectures ["${EAGLE3_ARCHITECTURE}"] and tensors fc.weight and midlayer.*; found architectures ${JSON.stringify(c.architectures ?? null)}, ${midlayer ? 'midlayer.* tensors' : 'no midlayer.* tensors'}, ${names.has('fc.weight') ? 'fc.weight' : 'no fc.weight'}`,
    );
  }
  if (names.has('fc.weight') || names.has('model.fc.weight')) return 'eagle';
  throw new CheckpointError(
    'unknown-architecture',
    file,
    `not an EAGLE head layout treespec knows: expected fc.weight with layers.0.* (EAGLE-1/2) or ${EAGLE3_ARCHITECTURE} with fc.weight and midlayer.* (EAGLE-3); found tensors ${tensorNames.slice(0, 6).join(', ')}${tensorNames.length > 6 ? ', …' : ''}`,
  );
}

function parseCommon(
  c: Record<string, unknown>,
  file: string,
  architecture: string,
  family: ModelFamily,
): DecoderConfig {
  const int = (key: string, fallback?: number): number => {
    const value = c[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      throw new CheckpointError(
        'bad-config',
        file,
        `"${key}" must be an integer >= 1; found ${JSON.stringify(value ?? null)}`,
      );
    }
    return value;
  };
  const hidden = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', heads);
  const headDim = int('head_dim', hidden / heads);
  if (heads % kvHeads !== 0) {
    throw new CheckpointError(
      'bad-config',
      file,
      `num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`,
    );
  }
  if (headDim % 2 !== 0)
    throw new CheckpointError('bad-config', file, `head_dim must be even for RoPE; found ${headDim}`);
  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (act !== 'silu' && act !== 'swish') {
    throw new CheckpointError(
      'unsupported-config',
      file,
      `hidden_act "${act}" is not supported; expected "silu" (SwiGLU)`,
    );
  }
  let maxPositions = int('max_position_embeddings', 2048);
  let maxPositionsField: DecoderConfig['maxPositionsField'] = 'max_position_embeddings';
  const slidingWindow = c.sliding_window;
  const usesSliding = family === 'mistral' ? slidingWindow != null : c.use_sliding_window === true;
  if (usesSliding && typeof slidingWindow === 'number' && slidingWindow < maxPositions) {
    if (family !== 'mistral') {
      throw new CheckpointError(
        'unsupported-config',
        file,
        `use_sliding_window with window ${slidingWindow} is not supported; only full attention is`,
      );
    }
    maxPositions = slidingWindow;
    maxPositionsField = 'sliding_window';
  }
  const eps = c.rms_norm_eps ?? 1e-6;
  if (typeof eps !== 'number' || !(eps > 0)) {
    throw new CheckpointError(
      'bad-config',
      file,
      `rms_norm_eps must be a number > 0; found ${JSON.stringify(eps)}`,
    );
  }
  const attentionBias = c.attention_bias === true;
  const layer: LayerFeatures =
    family === 'qwen2'
      ? { qkvBias: true, outputBias: false, mlpBias: false, qkNorm: false }
      : {
          qkvBias: attentionBias,
          outputBias: attentionBias,
          mlpBias: c.mlp_bias === true,
          qkNorm: family === 'qwen3',
        };
  const eos = c.eos_token_id;
  return {
    file,
    architecture,
    modelType: String(c.model_type ?? family),
    family,
    vocab: int('vocab_size'),
    hidden,
    intermediate: int('intermediate_size'),
    layers: int('num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    rmsNormEps: eps,
    rope: parseRope(c, file, maxPositions),
    maxPositions,
    maxPositionsField,
    tieWordEmbeddings: c.tie_word_embeddings === true,
    layer,
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenIds: Array.isArray(eos)
      ? eos.filter((e) => typeof e === 'number')
      : typeof eos === 'number'
        ? [eos]
        : [],
    padTokenId: typeof c.pad_token_id === 'number' ? c.pad_token_id : null,
  };
}

function asObject(json: unknown, file: string): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CheckpointError('bad-config', file, 'config.json must hold a JSON object');
  }
  return json as Record<string, unknown>;
}
