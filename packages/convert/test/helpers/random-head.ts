import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/index.js';
import { normals, seededRandom } from './random.js';
import { roundTo, type TensorPlan, type VariantSpec, type Weights } from './random-checkpoint.js';
import { writeSizedTokenizer } from './sized-tokenizer.js';

/** A small Llama target (BF16, untied lm_head) for the test EAGLE heads to pair with, its random weights from `seed`. */
export function headTarget(seed: number): VariantSpec {
  return {
    architecture: 'LlamaForCausalLM',
    vocab: 80,
    hidden: 32,
    intermediate: 40,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    headDim: 8,
    tie: false,
    dtype: 'BF16',
    seed,
  };
}

/** The tensors of an EAGLE-1/2 head for a target of shape `spec` (EAGLE's layout, without an embedding copy). */
export function headShapes(spec: VariantSpec): TensorPlan[] {
  const { hidden: h, intermediate: m, heads, kvHeads, headDim: d } = spec;
  return [
    { name: 'fc.weight', shape: [h, 2 * h], std: 1 / Math.sqrt(2 * h), mean: 0 },
    { name: 'fc.bias', shape: [h], std: 0.1, mean: 0 },
    { name: 'layers.0.self_attn.q_proj.weight', shape: [heads * d, h], std: 1 / Math.sqrt(h), mean: 0 },
    { name: 'layers.0.self_attn.k_proj.weight', shape: [kvHeads * d, h], std: 1 / Math.sqrt(h), mean: 0 },
    { name: 'layers.0.self_attn.v_proj.weight', shape: [kvHeads * d, h], std: 1 / Math.sqrt(h), mean: 0 },
    {
      name: 'layers.0.self_attn.o_proj.weight',
      shape: [h, heads * d],
      std: 1 / Math.sqrt(heads * d),
      mean: 0,
    },
    { name: 'layers.0.post_attention_layernorm.weight', shape: [h], std: 0.1, mean: 1 },
    { name: 'layers.0.mlp.gate_proj.weight', shape: [m, h], std: 1 / Math.sqrt(h), mean: 0 },
    { name: 'layers.0.mlp.up_proj.weight', shape: [m, h], std: 1 / Math.sqrt(h), mean: 0 },
    { name: 'layers.0.mlp.down_proj.weight', shape: [h, m], std: 1 / Math.sqrt(m), mean: 0 },
  ];
}

/** The config.json of an EAGLE-1/2 head for a target of shape `spec`. */
export function headConfig(spec: VariantSpec): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: spec.vocab,
    hidden_size: spec.hidden,
    intermediate_size: spec.intermediate,
    num_hidden_layers: 1,
    num_attention_heads: spec.heads,
    num_key_value_heads: spec.kvHeads,
    head_dim: spec.headDim,
    hidden_act: 'silu',
    max_position_embeddings: spec.maxPositions ?? 256,
    rope_theta: spec.ropeTheta ?? 10000,
    rms_norm_eps: 1e-6,
    bias: true,
  };
}

/**
 * Writes a random EAGLE-1/2 head for a target of shape `spec` in EAGLE's layout (no `model.`
 * prefix, no input norm, fc with bias) and returns its weights as the converter will read them.
 * With `embedding`, the head carries its own copy of that embedding.
 */
export async function writeHeadCheckpoint(
  dir: string,
  spec: VariantSpec,
  seed: number,
  embedding?: Float32Array,
): Promise<Weights> {
  await mkdir(dir, { recursive: true });
  const random = seededRandom(seed);
  const { hidden: h, vocab } = spec;
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  if (embedding) tensors.push({ name: 'embed_tokens.weight', shape: [vocab, h], data: embedding });
  for (const { name, shape, std, mean } of headShapes(spec)) {
    tensors.push({
      name,
      shape,
      data: normals(
        random,
        shape.reduce((a, b) => a * b, 1),
        std,
        mean,
      ),
    });
  }
  const rounded = tensors.map((t) => ({ ...t, dtype: spec.dtype, data: roundTo(spec.dtype, t.data) }));
  await writeSafetensors(join(dir, 'model.safetensors'), rounded);
  await writeFile(join(dir, 'config.json'), JSON.stringify(headConfig(spec)));
  await writeSizedTokenizer(dir, spec.vocab);
  return new Map(rounded.map((t) => [t.name, t.data]));
}
