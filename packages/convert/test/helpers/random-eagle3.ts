import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seededRandom } from './random.js';
import { writeSizedTokenizer } from './sized-tokenizer.js';
import { bf16Tensor, type RawTensor, writeRawSafetensors } from './streamed-safetensors.js';

/** Shapes of an EAGLE-3 head and the target it belongs to. */
export interface Eagle3Spec {
  readonly vocab: number;
  readonly draftVocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Decoder layers of the target (only its config says so; its layer tensors are not written). */
  readonly targetLayers: number;
  readonly seed: number;
}

/** Draft ids → target ids: `draftVocab` distinct ids spread over the vocabulary, ascending (as EAGLE's d2t). */
export function spreadDraftVocabulary(vocab: number, draftVocab: number): Int32Array {
  return Int32Array.from({ length: draftVocab }, (_, d) => Math.floor((d * vocab) / draftVocab));
}

/** What to break in {@link writeEagle3Checkpoint}'s output. */
export interface Eagle3Faults {
  /** Tensors left out. */
  readonly omit?: readonly string[];
  /** Replaces `d2t`'s target ids (e.g. out of range). */
  readonly targetIds?: Int32Array;
  /** Entries merged into config.json. */
  readonly config?: Record<string, unknown>;
}

/**
 * Writes an EAGLE-3 head in the published SafeAILab layout (config `LlamaForCausalLMEagle3` with
 * `draft_vocab_size`; `fc`, `midlayer.*`, `norm`, `lm_head` in bf16; `d2t` I64; `t2d` BOOL; no
 * embedding) and returns the draft vocabulary's target ids.
 */
export async function writeEagle3Checkpoint(
  dir: string,
  spec: Eagle3Spec,
  faults: Eagle3Faults = {},
): Promise<Int32Array> {
  await mkdir(dir, { recursive: true });
  const random = seededRandom(spec.seed);
  const { hidden: h, intermediate: m, heads, kvHeads, headDim: d, vocab, draftVocab } = spec;
  const targetIds = faults.targetIds ?? spreadDraftVocabulary(vocab, draftVocab);
  const d2t = BigInt64Array.from(targetIds, (id, i) => BigInt(id - i));
  const t2d = new Uint8Array(vocab);
  for (const id of targetIds) if (id >= 0 && id < vocab) t2d[id] = 1;
  const norm = (name: string) => bf16Tensor(name, [h], random, 0.5, 1);
  const tensors: RawTensor[] = [
    bf16Tensor('fc.weight', [h, 3 * h], random),
    norm('midlayer.hidden_norm.weight'),
    norm('midlayer.input_layernorm.weight'),
    norm('midlayer.post_attention_layernorm.weight'),
    bf16Tensor('midlayer.self_attn.q_proj.weight', [heads * d, 2 * h], random),
    bf16Tensor('midlayer.self_attn.k_proj.weight', [kvHeads * d, 2 * h], random),
    bf16Tensor('midlayer.self_attn.v_proj.weight', [kvHeads * d, 2 * h], random),
    bf16Tensor('midlayer.self_attn.o_proj.weight', [h, heads * d], random),
    bf16Tensor('midlayer.mlp.gate_proj.weight', [m, h], random),
    bf16Tensor('midlayer.mlp.up_proj.weight', [m, h], random),
    bf16Tensor('midlayer.mlp.down_proj.weight', [h, m], random),
    norm('norm.weight'),
    bf16Tensor('lm_head.weight', [draftVocab, h], random),
    {
      name: 'd2t',
      dtype: 'I64',
      shape: [draftVocab],
      bytes: d2t.byteLength,
      chunks: () => [new Uint8Array(d2t.buffer)],
    },
    { name: 't2d', dtype: 'BOOL', shape: [vocab], bytes: vocab, chunks: () => [t2d] },
  ];
  await writeRawSafetensors(
    join(dir, 'model.safetensors'),
    tensors.filter((t) => !faults.omit?.includes(t.name)),
  );
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLMEagle3'],
      model_type: 'llama',
      vocab_size: vocab,
      draft_vocab_size: draftVocab,
      hidden_size: h,
      intermediate_size: m,
      num_hidden_layers: 1,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: d,
      hidden_act: 'silu',
      max_position_embeddings: 2048,
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      torch_dtype: 'bfloat16',
      ...faults.config,
    }),
  );
  return targetIds;
}

/**
 * Writes the parts of a target checkpoint an EAGLE-3 head conversion reads: config.json (a
 * `targetLayers`-layer Llama with tied embeddings, as Llama 3.2's), `model.embed_tokens.weight`
 * in bf16 (also its lm_head, which the conversion fingerprints), and a tokenizer. Its decoder
 * layers are not written, so it converts heads but not itself.
 */
export async function writeTargetForHead(dir: string, spec: Eagle3Spec): Promise<void> {
  await mkdir(dir, { recursive: true });
  const random = seededRandom(spec.seed + 1);
  await writeRawSafetensors(join(dir, 'model.safetensors'), [
    bf16Tensor('model.embed_tokens.weight', [spec.vocab, spec.hidden], random),
  ]);
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: spec.vocab,
      hidden_size: spec.hidden,
      intermediate_size: spec.intermediate,
      num_hidden_layers: spec.targetLayers,
      num_attention_heads: spec.heads,
      num_key_value_heads: spec.kvHeads,
      head_dim: spec.headDim,
      tie_word_embeddings: true,
      hidden_act: 'silu',
      max_position_embeddings: 2048,
      rope_theta: 500000,
      rms_norm_eps: 1e-5,
      bos_token_id: 1,
      eos_token_id: 2,
    }),
  );
  await writeSizedTokenizer(dir, spec.vocab);
}
