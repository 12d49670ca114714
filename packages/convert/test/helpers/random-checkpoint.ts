import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeFloats, floatToBfloat16Bits, floatToHalfBits, writeSafetensors } from '../../src/index.js';
import { normals, seededRandom } from './random.js';
import { writeSizedTokenizer } from './sized-tokenizer.js';

/** A small Llama-family model to generate: every architectural switch the converter supports. */
export interface VariantSpec {
  readonly architecture: 'LlamaForCausalLM' | 'MistralForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM';
  readonly vocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly tie: boolean;
  /** Llama's attention_bias (q, k, v and o biases); Qwen2 always has q/k/v biases. */
  readonly attentionBias?: boolean;
  readonly mlpBias?: boolean;
  readonly ropeTheta?: number;
  readonly ropeScaling?: Record<string, unknown> | null;
  readonly maxPositions?: number;
  readonly dtype: 'F32' | 'F16' | 'BF16';
  /** Number of safetensors shards (1 writes model.safetensors). */
  readonly shards?: number;
  readonly seed: number;
}

/** The weights as the converter will read them (already rounded to the file's dtype). */
export type Weights = Map<string, Float32Array>;

/** A one-layer Llama small enough to convert in well under a second, for tests of the converter's bookkeeping. */
export const ONE_LAYER_LLAMA: VariantSpec = {
  architecture: 'LlamaForCausalLM',
  vocab: 64,
  hidden: 32,
  intermediate: 48,
  layers: 1,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  tie: false,
  dtype: 'BF16',
  seed: 11,
};

/** HF config.json of a variant. */
export function variantConfig(spec: VariantSpec): Record<string, unknown> {
  const modelType = {
    LlamaForCausalLM: 'llama',
    MistralForCausalLM: 'mistral',
    Qwen2ForCausalLM: 'qwen2',
    Qwen3ForCausalLM: 'qwen3',
  }[spec.architecture];
  return {
    architectures: [spec.architecture],
    model_type: modelType,
    vocab_size: spec.vocab,
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: spec.layers,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.headDim,
    hidden_act: 'silu',
    max_position_embeddings: spec.maxPositions ?? 256,
    rope_theta: spec.ropeTheta ?? 10000,
    rope_scaling: spec.ropeScaling ?? null,
    rms_norm_eps: 1e-6,
    attention_bias: spec.attentionBias ?? false,
    mlp_bias: spec.mlpBias ?? false,
    tie_word_embeddings: spec.tie,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[spec.dtype],
  };
}

/** One tensor of a checkpoint to generate: its HF name, shape and the normal it is drawn from. */
export interface TensorPlan {
  readonly name: string;
  readonly shape: number[];
  readonly std: number;
  readonly mean: number;
}

/** Every tensor of a variant in file order, with the spread of an initialised model's weights. */
export function variantShapes(spec: VariantSpec): TensorPlan[] {
  const { vocab, hidden: h, intermediate: m, heads, kvHeads, headDim: d } = spec;
  const out: TensorPlan[] = [];
  const add = (name: string, shape: number[], std: number, mean = 0) => out.push({ name, shape, std, mean });
  const linear = (_rows: number, cols: number) => 1 / Math.sqrt(cols);
  add('model.embed_tokens.weight', [vocab, h], 1);
  const qwen2 = spec.architecture === 'Qwen2ForCausalLM';
  const qwen3 = spec.architecture === 'Qwen3ForCausalLM';
  for (let l = 0; l < spec.layers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [h], 0.1, 1);
    add(`${p}self_attn.q_proj.weight`, [heads * d, h], linear(heads * d, h));
    add(`${p}self_attn.k_proj.weight`, [kvHeads * d, h], linear(kvHeads * d, h));
    add(`${p}self_attn.v_proj.weight`, [kvHeads * d, h], linear(kvHeads * d, h));
    add(`${p}self_attn.o_proj.weight`, [h, heads * d], linear(h, heads * d));
    if (qwen2 || spec.attentionBias) {
      add(`${p}self_attn.q_proj.bias`, [heads * d], 0.1);
      add(`${p}self_attn.k_proj.bias`, [kvHeads * d], 0.1);
      add(`${p}self_attn.v_proj.bias`, [kvHeads * d], 0.1);
    }
    if (!qwen2 && spec.attentionBias) add(`${p}self_attn.o_proj.bias`, [h], 0.1);
    if (qwen3) {
      add(`${p}self_attn.q_norm.weight`, [d], 0.1, 1);
      add(`${p}self_attn.k_norm.weight`, [d], 0.1, 1);
    }
    add(`${p}post_attention_layernorm.weight`, [h], 0.1, 1);
    add(`${p}mlp.gate_proj.weight`, [m, h], linear(m, h));
    add(`${p}mlp.up_proj.weight`, [m, h], linear(m, h));
    add(`${p}mlp.down_proj.weight`, [h, m], linear(h, m));
    if (spec.mlpBias) {
      add(`${p}mlp.gate_proj.bias`, [m], 0.1);
      add(`${p}mlp.up_proj.bias`, [m], 0.1);
      add(`${p}mlp.down_proj.bias`, [h], 0.1);
    }
  }
  add('model.norm.weight', [h], 0.1, 1);
  if (!spec.tie) add('lm_head.weight', [vocab, h], linear(vocab, h));
  return out;
}

/** Random weights of a variant, keyed by HF tensor name, with shapes. */
export function variantTensors(spec: VariantSpec): { name: string; shape: number[]; data: Float32Array }[] {
  const random = seededRandom(spec.seed);
  return variantShapes(spec).map(({ name, shape, std, mean }) => ({
    name,
    shape,
    data: normals(
      random,
      shape.reduce((a, b) => a * b, 1),
      std,
      mean,
    ),
  }));
}

/** Rounds values to what a file of `dtype` holds, as the converter will read them back. */
export function roundTo(dtype: 'F32' | 'F16' | 'BF16', data: Float32Array): Float32Array {
  if (dtype === 'F32') return data;
  const bits = new Uint16Array(data.length);
  const round = dtype === 'F16' ? floatToHalfBits : floatToBfloat16Bits;
  for (let i = 0; i < data.length; i++) bits[i] = round(data[i]!);
  return decodeFloats(new Uint8Array(bits.buffer), dtype, new Float32Array(data.length));
}

/**
 * Writes a checkpoint directory for `spec` (config.json, safetensors single or sharded with an
 * index, the tiny model's tokenizer.json) and returns the weights as the converter will see them.
 */
export async function writeVariantCheckpoint(dir: string, spec: VariantSpec): Promise<Weights> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(variantConfig(spec), null, 2));
  await writeSizedTokenizer(dir, spec.vocab);
  const tensors = variantTensors(spec).map((t) => ({
    ...t,
    dtype: spec.dtype,
    data: roundTo(spec.dtype, t.data),
  }));
  await writeShards(dir, tensors, spec.shards ?? 1);
  return new Map(tensors.map((t) => [t.name, t.data]));
}

/** Writes tensors as one model.safetensors or as `shards` files with model.safetensors.index.json. */
export async function writeShards(
  dir: string,
  tensors: { name: string; shape: number[]; dtype: 'F32' | 'F16' | 'BF16'; data: Float32Array }[],
  shards: number,
): Promise<void> {
  if (shards === 1) {
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return;
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(tensors.length / shards);
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(s * per, (s + 1) * per);
    for (const t of part) weightMap[t.name] = file;
    await writeSafetensors(join(dir, file), part);
  }
  await writeFile(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
}
