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
  const architecture = Array.isArray(architectures) ? String(architectures[0]) : undefined;
  if (!architecture || !(architecture in SUPPORTED_ARCHITECTURES)) {
    throw new CheckpointError(
      'unknown-architecture',
      file,
      `architecture ${JSON.stringify(architectures ?? null)} is not supported; expected one of ${Object.keys(
        SUPPORTED_ARCHITECTURES,
      ).join(', ')}`,
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
