import type { Checkpoint } from './checkpoint.js';
import type { DecoderConfig } from './config.js';
import type { Matrix } from './matrix.js';

/** Weights of one self-attention block, HF orientation ([out, in]). */
export interface AttentionWeights {
  readonly q: Matrix;
  readonly k: Matrix;
  readonly v: Matrix;
  readonly o: Matrix;
  readonly qBias: Float32Array | null;
  readonly kBias: Float32Array | null;
  readonly vBias: Float32Array | null;
  readonly oBias: Float32Array | null;
  /** Qwen3's per-head RMSNorm scales [headDim]. */
  readonly qNorm: Float32Array | null;
  readonly kNorm: Float32Array | null;
}

/** Weights of one SwiGLU MLP. */
export interface MlpWeights {
  readonly gate: Matrix;
  readonly up: Matrix;
  readonly down: Matrix;
  readonly gateBias: Float32Array | null;
  readonly upBias: Float32Array | null;
  readonly downBias: Float32Array | null;
}

/** Weights of one decoder layer; `inputNorm` is null for an EAGLE head's layer. */
export interface LayerWeights {
  readonly inputNorm: Float32Array | null;
  readonly attention: AttentionWeights;
  readonly postAttentionNorm: Float32Array;
  readonly mlp: MlpWeights;
}

/**
 * Looks up the tensors of decoder layer `prefix` (e.g. `model.layers.3.`) with the shapes the
 * config implies; a missing or misshapen tensor throws a CheckpointError naming it.
 */
export async function loadLayerWeights(
  checkpoint: Checkpoint,
  prefix: string,
  config: DecoderConfig,
  withInputNorm: boolean,
): Promise<LayerWeights> {
  const { hidden, heads, kvHeads, headDim, intermediate, layer } = config;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  const attn = `${prefix}self_attn.`;
  const mlp = `${prefix}mlp.`;
  const bias = async (on: boolean, name: string, n: number) => (on ? checkpoint.vector(name, n) : null);
  return {
    inputNorm: withInputNorm ? await checkpoint.vector(`${prefix}input_layernorm.weight`, hidden) : null,
    attention: {
      q: checkpoint.matrix(`${attn}q_proj.weight`, q, hidden),
      k: checkpoint.matrix(`${attn}k_proj.weight`, kv, hidden),
      v: checkpoint.matrix(`${attn}v_proj.weight`, kv, hidden),
      o: checkpoint.matrix(`${attn}o_proj.weight`, hidden, q),
      qBias: await bias(layer.qkvBias, `${attn}q_proj.bias`, q),
      kBias: await bias(layer.qkvBias, `${attn}k_proj.bias`, kv),
      vBias: await bias(layer.qkvBias, `${attn}v_proj.bias`, kv),
      oBias: await bias(layer.outputBias, `${attn}o_proj.bias`, hidden),
      qNorm: await bias(layer.qkNorm, `${attn}q_norm.weight`, headDim),
      kNorm: await bias(layer.qkNorm, `${attn}k_norm.weight`, headDim),
    },
    postAttentionNorm: await checkpoint.vector(`${prefix}post_attention_layernorm.weight`, hidden),
    mlp: {
      gate: checkpoint.matrix(`${mlp}gate_proj.weight`, intermediate, hidden),
      up: checkpoint.matrix(`${mlp}up_proj.weight`, intermediate, hidden),
      down: checkpoint.matrix(`${mlp}down_proj.weight`, hidden, intermediate),
      gateBias: await bias(layer.mlpBias, `${mlp}gate_proj.bias`, intermediate),
      upBias: await bias(layer.mlpBias, `${mlp}up_proj.bias`, intermediate),
      downBias: await bias(layer.mlpBias, `${mlp}down_proj.bias`, hidden),
    },
  };
}
