import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, Fp32Weights, type GraphOptions, parseDecoderConfig } from '../src/index.js';
import { causalBias, emptyCache, maxAbsDiff, openSession, runDecoder } from '../src/testing/index.js';
import {
  type VariantSpec,
  variantConfig,
  type Weights,
  writeVariantCheckpoint,
} from './helpers/random-checkpoint.js';
import { type ReferenceDims, referenceCausalLM } from './helpers/reference-forward.js';

/**
 * Tolerance: both sides compute in float32 (ONNX) vs float64 (reference) on identical weights;
 * with these small random models logits are O(1..10), and fp32 rounding through two layers
 * stays below 1e-5 relative. 2e-4 absolute leaves headroom while any wrong wiring (a transposed
 * weight, a missing bias, a wrong rope pair) shows up as errors of order 0.1 to 10.
 */
const TOLERANCE = 2e-4;

const BASE = { vocab: 96, hidden: 32, intermediate: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 8 };

const VARIANTS: Record<string, VariantSpec> = {
  'llama, untied, GQA 4:2, fp32, single file': {
    ...BASE,
    architecture: 'LlamaForCausalLM',
    tie: false,
    dtype: 'F32',
    seed: 1,
  },
  'llama, tied, MHA 4:4, bf16, 3 shards': {
    ...BASE,
    architecture: 'LlamaForCausalLM',
    kvHeads: 4,
    tie: true,
    dtype: 'BF16',
    shards: 3,
    seed: 2,
  },
  'llama, attention and mlp biases, MQA 4:1, fp16': {
    ...BASE,
    architecture: 'LlamaForCausalLM',
    kvHeads: 1,
    tie: false,
    attentionBias: true,
    mlpBias: true,
    dtype: 'F16',
    seed: 3,
  },
  'qwen2, q/k/v biases, head_dim 16 != hidden/heads, GQA 4:2, bf16': {
    ...BASE,
    architecture: 'Qwen2ForCausalLM',
    headDim: 16,
    tie: false,
    dtype: 'BF16',
    seed: 4,
  },
  'qwen3, q/k norms, tied, GQA 8:2, bf16, 2 shards': {
    ...BASE,
    architecture: 'Qwen3ForCausalLM',
    heads: 8,
    kvHeads: 2,
    tie: true,
    dtype: 'BF16',
    shards: 2,
    seed: 5,
  },
  'mistral, linear rope scaling x2': {
    ...BASE,
    architecture: 'MistralForCausalLM',
    tie: false,
    dtype: 'F32',
    ropeScaling: { rope_type: 'linear', factor: 2 },
    seed: 6,
  },
  'llama3 rope scaling, theta 500000': {
    ...BASE,
    architecture: 'LlamaForCausalLM',
    headDim: 16,
    tie: true,
    dtype: 'BF16',
    ropeTheta: 500000,
    ropeScaling: {
      rope_type: 'llama3',
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    },
    seed: 7,
  },
  'yarn rope scaling x4': {
    ...BASE,
    architecture: 'Qwen2ForCausalLM',
    headDim: 16,
    tie: false,
    dtype: 'F32',
    ropeScaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 64 },
    seed: 8,
  },
};

function dimsOf(spec: VariantSpec): ReferenceDims {
  const config = parseDecoderConfig(variantConfig(spec), 'config.json');
  return { ...config, eps: config.rmsNormEps, tie: spec.tie };
}

const causal = (i: number, j: number) => j <= i;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-variants-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function convertVariant(
  name: string,
  spec: VariantSpec,
  graph?: Partial<GraphOptions>,
  linearOp?: 'gemm' | 'matmul',
) {
  const dir = join(root, name.replace(/[^a-z0-9]+/gi, '-'));
  const weights = await writeVariantCheckpoint(join(dir, 'hf'), spec);
  const result = await convertCausalLM({
    checkpoint: join(dir, 'hf'),
    out: join(dir, 'onnx'),
    graph,
    weightFormat: linearOp ? new Fp32Weights(linearOp) : undefined,
  });
  const session = await openSession(join(dir, 'onnx', result.model.file));
  return { weights, session, result };
}

async function expectMatchesReference(
  spec: VariantSpec,
  weights: Weights,
  session: Awaited<ReturnType<typeof openSession>>,
): Promise<void> {
  const dims = dimsOf(spec);
  const tokens = [1, 17, 42, 5, 88, 3, 60];
  const start = spec.ropeScaling ? 150 : 3;
  const positions = tokens.map((_, i) => start + i);
  const ref = referenceCausalLM(weights, dims, tokens, positions, causal);
  const shape = { layers: spec.layers, kvHeads: spec.kvHeads, headDim: spec.headDim };
  const full = await runDecoder(session, shape, tokens, positions, causalBias(0, 7), emptyCache(spec.layers));
  expect(maxAbsDiff(full.outputs.logits!.data as Float32Array, ref.logits)).toBeLessThan(TOLERANCE);
  expect(maxAbsDiff(full.outputs.feature!.data as Float32Array, ref.features)).toBeLessThan(TOLERANCE);

  const first = await runDecoder(
    session,
    shape,
    tokens.slice(0, 4),
    positions.slice(0, 4),
    causalBias(0, 4),
    emptyCache(spec.layers),
  );
  const second = await runDecoder(
    session,
    shape,
    tokens.slice(4),
    positions.slice(4),
    causalBias(4, 3),
    first.cache,
  );
  expect(
    maxAbsDiff(second.outputs.logits!.data as Float32Array, ref.logits.subarray(4 * spec.vocab)),
  ).toBeLessThan(TOLERANCE);
}

describe('converted random-weight checkpoints match a TypeScript reference forward', () => {
  for (const [name, spec] of Object.entries(VARIANTS)) {
    it(`matches for ${name}`, async () => {
      const { weights, session } = await convertVariant(name, spec);
      await expectMatchesReference(spec, weights, session);
      await session.release();
    });
  }
});

describe('graph variants compute the same function', () => {
  const spec = VARIANTS['llama, attention and mlp biases, MQA 4:1, fp16']!;
  const qwen3 = VARIANTS['qwen3, q/k norms, tied, GQA 8:2, bf16, 2 shards']!;
  const cases: [string, VariantSpec, Partial<GraphOptions>, 'gemm' | 'matmul'][] = [
    ['separate q/k/v and gate/up matmuls', spec, { fuseQkv: false, fuseGateUp: false }, 'gemm'],
    ['primitive-op RMSNorm', spec, { norm: 'primitive' }, 'gemm'],
    ['primitive-op RoPE', spec, { rope: 'primitive' }, 'gemm'],
    ['qwen3 with primitive RMSNorm and RoPE', qwen3, { norm: 'primitive', rope: 'primitive' }, 'gemm'],
    ['attention scale applied at run time', spec, { foldScale: false }, 'gemm'],
    ['MatMul with transposed weights', spec, {}, 'matmul'],
    [
      'qwen3 with the scale at run time and unfused projections',
      qwen3,
      { foldScale: false, fuseQkv: false },
      'gemm',
    ],
  ];
  for (const [name, s, graph, op] of cases) {
    it(`matches the reference with ${name}`, async () => {
      const { weights, session } = await convertVariant(`g-${name}`, s, graph, op);
      await expectMatchesReference(s, weights, session);
      await session.release();
    });
  }
});
