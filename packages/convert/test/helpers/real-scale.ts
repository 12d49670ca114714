import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TOKEN_FREQUENCIES_FORMAT, writeTokenFrequencies } from '../../src/index.js';
import { seededRandom } from './random.js';
import { type TensorPlan, type VariantSpec, variantConfig, variantShapes } from './random-checkpoint.js';
import { headConfig, headShapes } from './random-head.js';
import { bf16Tensor, writeRawSafetensors } from './streamed-safetensors.js';

const TOKENIZER = join(import.meta.dirname, '../../../model-tiny/checkpoints/treespec-tiny/tokenizer.json');

/**
 * The shapes of meta-llama/Llama-3.2-1B (its config.json): 16 layers of 2048, 32 query and 8 KV
 * heads of 64, MLP 8192, vocabulary 128256, tied embeddings, llama3 RoPE scaling; 1.24 B parameters.
 */
export const LLAMA_3_2_1B: VariantSpec = {
  architecture: 'LlamaForCausalLM',
  vocab: 128256,
  hidden: 2048,
  intermediate: 8192,
  layers: 16,
  heads: 32,
  kvHeads: 8,
  headDim: 64,
  tie: true,
  ropeTheta: 500000,
  ropeScaling: {
    rope_type: 'llama3',
    factor: 32,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
  },
  maxPositions: 131072,
  dtype: 'BF16',
  seed: 1,
};

/**
 * The shapes of Qwen/Qwen3-0.6B (its config.json): 28 layers of 1024, 16 query and 8 KV heads of
 * 128 (wider than hidden / heads), per-head q/k RMSNorm, MLP 3072, vocabulary 151936, tied
 * embeddings; 0.60 B parameters.
 */
export const QWEN3_0_6B: VariantSpec = {
  architecture: 'Qwen3ForCausalLM',
  vocab: 151936,
  hidden: 1024,
  intermediate: 3072,
  layers: 28,
  heads: 16,
  kvHeads: 8,
  headDim: 128,
  tie: true,
  ropeTheta: 1000000,
  maxPositions: 40960,
  dtype: 'BF16',
  seed: 2,
};

/** Parameters of a variant's checkpoint (tied embeddings counted once). */
export function parameterCount(spec: VariantSpec): number {
  return variantShapes(spec).reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** bf16 tensors of `plans`, uniform with each plan's mean and standard deviation. */
function streamedTensors(plans: readonly TensorPlan[], seed: number) {
  const random = seededRandom(seed);
  return plans.map((t) => bf16Tensor(t.name, t.shape, random, t.std * Math.sqrt(3), t.mean));
}

/**
 * Writes a bf16 checkpoint of `spec` at full size (config.json, model.safetensors, the tiny
 * model's tokenizer.json) without holding a tensor in memory: each tensor repeats one seeded random
 * block of at most 4 MB, so a 1 B-parameter model costs its 2.5 GB of disk writes and little else.
 * The values are for timing, not for reading back.
 */
export async function writeStreamedCheckpoint(dir: string, spec: VariantSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'config.json'),
    JSON.stringify(variantConfig({ ...spec, dtype: 'BF16' }), null, 2),
  );
  await copyFile(TOKENIZER, join(dir, 'tokenizer.json'));
  await writeRawSafetensors(join(dir, 'model.safetensors'), streamedTensors(variantShapes(spec), spec.seed));
}

/** Writes an EAGLE-1/2 head for a target of shape `spec` as {@link writeStreamedCheckpoint} writes targets. */
export async function writeStreamedHeadCheckpoint(
  dir: string,
  spec: VariantSpec,
  seed: number,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(headConfig(spec)));
  await copyFile(TOKENIZER, join(dir, 'tokenizer.json'));
  await writeRawSafetensors(join(dir, 'model.safetensors'), streamedTensors(headShapes(spec), seed));
}

/**
 * Writes a token-frequency file for the checkpoint in `checkpointDir` (for `--draft-vocab-corpus`):
 * Zipf-like counts over a seeded shuffle of the vocabulary, so an FR-Spec draft vocabulary of any
 * size can be cut from a model whose tokenizer covers fewer ids than its vocabulary.
 */
export async function writeSyntheticFrequencies(
  path: string,
  checkpointDir: string,
  vocab: number,
  seed: number,
): Promise<void> {
  const random = seededRandom(seed);
  const order = Array.from({ length: vocab }, (_, i) => i);
  for (let i = vocab - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const counts = new Array<number>(vocab).fill(0);
  let tokens = 0;
  for (let rank = 0; rank < vocab; rank++) {
    const count = Math.floor(1e6 / (rank + 1));
    counts[order[rank]!] = count;
    tokens += count;
  }
  const tokenizer = await readFile(join(checkpointDir, 'tokenizer.json'));
  await writeTokenFrequencies(path, {
    format: TOKEN_FREQUENCIES_FORMAT,
    tokenizerSha256: createHash('sha256').update(tokenizer).digest('hex'),
    source: `synthetic Zipf counts, seed ${seed}`,
    tokens,
    counts,
  });
}
