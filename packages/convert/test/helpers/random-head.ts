import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/index.js';
import { normals, seededRandom } from './random.js';
import { roundTo, type VariantSpec, type Weights } from './random-checkpoint.js';

const TOKENIZER = join(import.meta.dirname, '../../../model-tiny/checkpoints/treespec-tiny/tokenizer.json');

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
  const { hidden: h, intermediate: m, heads, kvHeads, headDim: d, vocab } = spec;
  const tensors: { name: string; shape: number[]; data: Float32Array }[] = [];
  const add = (name: string, shape: number[], std: number, mean = 0) =>
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
  if (embedding) tensors.push({ name: 'embed_tokens.weight', shape: [vocab, h], data: embedding });
  add('fc.weight', [h, 2 * h], 1 / Math.sqrt(2 * h));
  add('fc.bias', [h], 0.1);
  add('layers.0.self_attn.q_proj.weight', [heads * d, h], 1 / Math.sqrt(h));
  add('layers.0.self_attn.k_proj.weight', [kvHeads * d, h], 1 / Math.sqrt(h));
  add('layers.0.self_attn.v_proj.weight', [kvHeads * d, h], 1 / Math.sqrt(h));
  add('layers.0.self_attn.o_proj.weight', [h, heads * d], 1 / Math.sqrt(heads * d));
  add('layers.0.post_attention_layernorm.weight', [h], 0.1, 1);
  add('layers.0.mlp.gate_proj.weight', [m, h], 1 / Math.sqrt(h));
  add('layers.0.mlp.up_proj.weight', [m, h], 1 / Math.sqrt(h));
  add('layers.0.mlp.down_proj.weight', [h, m], 1 / Math.sqrt(m));
  const rounded = tensors.map((t) => ({ ...t, dtype: spec.dtype, data: roundTo(spec.dtype, t.data) }));
  await writeSafetensors(join(dir, 'model.safetensors'), rounded);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: vocab,
      hidden_size: h,
      intermediate_size: m,
      num_hidden_layers: 1,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: d,
      hidden_act: 'silu',
      max_position_embeddings: spec.maxPositions ?? 256,
      rope_theta: spec.ropeTheta ?? 10000,
      rms_norm_eps: 1e-6,
      bias: true,
    }),
  );
  await copyFile(TOKENIZER, join(dir, 'tokenizer.json'));
  return new Map(rounded.map((t) => [t.name, t.data]));
}
