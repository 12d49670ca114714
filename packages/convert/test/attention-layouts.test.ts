import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DraftTree, KeepPlan, OptionError, planKeep } from '@treespec/core';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import { HeadMajorKvCache, SharedKvCache } from '@treespec/onnx/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, type GraphOptions, parseDecoderConfig } from '../src/index.js';
import { maxAbsDiff, openSession } from '../src/testing/index.js';
import { type VariantSpec, variantConfig, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { referenceCausalLM } from './helpers/reference-forward.js';

/** float32 (ONNX Runtime) against float64 (reference) on the same weights, as in variants.test.ts. */
const TOLERANCE = 2e-4;

const BASE = { vocab: 96, hidden: 32, intermediate: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 8 };

const VARIANTS: [string, VariantSpec, Partial<GraphOptions>][] = [
  [
    'llama GQA 4:2, fp32',
    { ...BASE, architecture: 'LlamaForCausalLM', tie: false, dtype: 'F32', seed: 11 },
    {},
  ],
  [
    'llama MQA 4:1 with attention and mlp biases, scale at run time',
    {
      ...BASE,
      architecture: 'LlamaForCausalLM',
      kvHeads: 1,
      tie: false,
      attentionBias: true,
      mlpBias: true,
      dtype: 'F16',
      seed: 12,
    },
    { foldScale: false },
  ],
  [
    'qwen3 q/k norms, GQA 8:2, tied, separate projections',
    { ...BASE, architecture: 'Qwen3ForCausalLM', heads: 8, kvHeads: 2, tie: true, dtype: 'BF16', seed: 13 },
    { fuseQkv: false },
  ],
];

/** The prompt, then a tree of 6 nodes over it: 0 → {1, 2}, 1 → 3, 2 → {4, 5}. */
const PROMPT = [1, 17, 42, 5, 88, 3, 60];
const TREE_TOKENS = [9, 31, 50, 77, 12, 64];
const TREE_PARENTS = [-1, 0, 0, 1, 2, 2];
const ACCEPTED = [0, 2, 5];

function tree(): DraftTree {
  const t = new DraftTree(8);
  t.reset(TREE_TOKENS[0]!);
  for (let i = 1; i < TREE_TOKENS.length; i++) t.add(TREE_PARENTS[i]!, TREE_TOKENS[i]!, 0);
  return t;
}

function ancestorOf(a: number, b: number): boolean {
  for (let x = b; x >= 0; x = TREE_PARENTS[x]!) if (x === a) return true;
  return false;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-attention-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('in-place attention (a head-major cache read where it lies) and fused attention (GroupQueryAttention over a shared cache)', () => {
  for (const [name, spec, graph] of VARIANTS) {
    it(`matches the reference forward and the plain graph through prefill, a tree, a commit and a token: ${name}`, async () => {
      const dir = join(root, `v${spec.seed}`);
      const weights = await writeVariantCheckpoint(join(dir, 'hf'), spec);
      const config = parseDecoderConfig(variantConfig(spec), 'config.json');
      const dims = { ...config, eps: config.rmsNormEps, tie: spec.tie };
      const runners: OnnxCausalLm[] = [];
      for (const attention of ['plain', 'in-place', 'fused'] as const) {
        const { model } = await convertCausalLM({
          checkpoint: join(dir, 'hf'),
          out: join(dir, 'onnx'),
          id: attention,
          graph,
          attention,
        });
        expect(model.attention ?? 'plain').toBe(attention);
        const session = await openSession(join(dir, 'onnx', model.file));
        // A 4-row cache chunk makes the cache grow on the way: fused 4 → 8 (prefill) → 16 (tree),
        // in-place by whole chunks 4 → 8 (prefill) → 12 (after the commit and the token).
        runners.push(new OnnxCausalLm(session, causalLmLayout(model), { cacheChunk: 4, prefillChunk: 3 }));
      }
      expect(runners[1]!.cache).toBeInstanceOf(HeadMajorKvCache);
      expect(runners[2]!.cache).toBeInstanceOf(SharedKvCache);

      const past = PROMPT.length;
      const depths = [0, 1, 1, 2, 2, 2];
      const ref = referenceCausalLM(
        weights,
        dims,
        [...PROMPT, ...TREE_TOKENS],
        [...PROMPT.map((_, i) => i), ...depths.map((d) => past + d)],
        (i, j) => (i < past || j < past ? j <= i : ancestorOf(j - past, i - past)),
      );
      const afterCommit = [...PROMPT, ...ACCEPTED.map((s) => TREE_TOKENS[s]!), 23];
      const ref2 = referenceCausalLM(
        weights,
        dims,
        afterCommit,
        afterCommit.map((_, i) => i),
        (i, j) => j <= i,
      );
      const path = Int32Array.from(ACCEPTED);
      for (const runner of runners) {
        const prefill = await runner.prefill(Int32Array.from(PROMPT), { features: true });
        expect(maxAbsDiff(prefill.features!, ref.features.subarray(0, past * spec.hidden))).toBeLessThan(
          TOLERANCE,
        );
        const t = tree();
        const step = await runner.verify(t);
        expect(maxAbsDiff(step.logits, ref.logits.subarray(past * spec.vocab))).toBeLessThan(TOLERANCE);
        runner.commit(planKeep(t, path, path.length, new KeepPlan(8)));
        expect(runner.cachedLength).toBe(past + ACCEPTED.length);
        const next = new DraftTree(1);
        next.reset(23);
        const token = await runner.verify(next);
        expect(
          maxAbsDiff(token.logits, ref2.logits.subarray((afterCommit.length - 1) * spec.vocab)),
        ).toBeLessThan(TOLERANCE);
        await runner.dispose();
      }
      expect(runners[1]!.cache.allocatedRows).toBe(12);
      expect(runners[2]!.cache.allocatedRows).toBe(16);
    });
  }

  it("gives the plain graph's logits with int8 and int4 weights too, through a tree and a commit", async () => {
    const spec: VariantSpec = {
      ...BASE,
      architecture: 'LlamaForCausalLM',
      tie: false,
      dtype: 'F32',
      seed: 15,
    };
    const dir = join(root, 'quantized');
    await writeVariantCheckpoint(join(dir, 'hf'), spec);
    for (const weightFormat of ['int8', 'int4'] as const) {
      const logits: Float32Array[][] = [];
      for (const attention of ['plain', 'in-place', 'fused'] as const) {
        const { model } = await convertCausalLM({
          checkpoint: join(dir, 'hf'),
          out: join(dir, 'onnx'),
          id: `${weightFormat}-${attention}`,
          weightFormat,
          attention,
        });
        const runner = new OnnxCausalLm(
          await openSession(join(dir, 'onnx', model.file)),
          causalLmLayout(model),
        );
        await runner.prefill(Int32Array.from(PROMPT));
        const t = tree();
        const first = Float32Array.from((await runner.verify(t)).logits);
        runner.commit(planKeep(t, Int32Array.from(ACCEPTED), ACCEPTED.length, new KeepPlan(8)));
        const next = new DraftTree(1);
        next.reset(23);
        logits.push([first, Float32Array.from((await runner.verify(next)).logits)]);
        await runner.dispose();
      }
      // Same quantized weights on every side: only the attention's summation order differs.
      for (const other of [1, 2]) {
        expect(maxAbsDiff(logits[0]![0]!, logits[other]![0]!), weightFormat).toBeLessThan(TOLERANCE);
        expect(maxAbsDiff(logits[0]![1]!, logits[other]![1]!), weightFormat).toBeLessThan(TOLERANCE);
      }
    }
  });

  it('refuses in-place and fused attention for a draft model, and float64 sums with either', async () => {
    const dir = join(root, 'draft');
    await writeVariantCheckpoint(join(dir, 'hf'), {
      ...BASE,
      architecture: 'LlamaForCausalLM',
      tie: false,
      dtype: 'F32',
      seed: 14,
    });
    for (const attention of ['in-place', 'fused'] as const) {
      await expect(
        convertCausalLM({ checkpoint: join(dir, 'hf'), out: join(dir, 'onnx'), role: 'draft', attention }),
      ).rejects.toThrow(OptionError);
      await expect(
        convertCausalLM({
          checkpoint: join(dir, 'hf'),
          out: join(dir, 'onnx'),
          attention,
          graph: { attentionPrecision: 'float64' },
        }),
      ).rejects.toThrow(/only plain attention sums in float64/);
    }
  });
});
