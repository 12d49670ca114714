import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DraftTree, ProviderSupportError } from '@treespec/core';
import {
  type CausalLmLayout,
  type CausalLmRunnerOptions,
  causalLmLayout,
  compactionModel,
  compactionOutputLocations,
  DeviceKvCache,
  deviceCacheOutputLocations,
  logitsCopyModel,
  OnnxCausalLm,
  weightsCopyModel,
} from '@treespec/onnx';
import { checkedArgmax } from '@treespec/sampling';
import type { InferenceSession } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget, targetEntry } from './converted-target.js';
import { fusedLogits } from './fused-logits.js';
import { devPrompts, TINY, targetCases } from './tiny.js';
import { webGpuUnavailable } from './webgpu-adapter.js';
import { webGpuHostCopies } from './webgpu-host-copies.js';

/**
 * onnxruntime-node's WebGPU provider through the real path. Without a GPU it runs on Mesa's
 * software Vulkan driver (lavapipe, Debian's mesa-vulkan-drivers 23 or later: Dawn rejects the 22.3
 * of bookworm, which lacks dynamic indexing of image arrays; .ci/run installs it). Lavapipe takes
 * hundreds of milliseconds per target call, so the generations are short and the tree small.
 * The target's KV cache stays on the device there (the planner's KV_CACHE_LOCATION), committed by
 * the compaction graph; test/device-kv-cache.test.ts runs the same logic on the CPU provider.
 */
const TOKENS = 5;
const PROMPTS = 5;
/** A small tree, drafted whole every step (`budget: 'fixed'`), so that every step verifies drafts. */
const TREE = { topK: 3, depth: 2, totalTokens: 6 };

/** Why WebGPU cannot run here, or null when an adapter exists. */
let unavailable: string | null = null;
let fusedDir: string | null = null;

beforeAll(async () => {
  unavailable = await webGpuUnavailable();
  if (unavailable) return;
  fusedDir = await mkdtemp(join(tmpdir(), 'treespec-webgpu-fused-'));
  await bundleWithTarget(fusedDir, { attention: 'fused' });
}, 120_000);
afterAll(async () => {
  if (fusedDir) await rm(fusedDir, { recursive: true, force: true });
});

const WEBGPU = { executionProvider: 'webgpu' } as const;

/** A WebGPU session of an in-memory graph whose outputs come to the host, counting its runs. */
async function countedSession(model: Uint8Array): Promise<{ session: InferenceSession; runs: () => number }> {
  const session = await createSession(model, WEBGPU, 'drafter', {});
  let runs = 0;
  const counted = Object.assign(Object.create(session) as InferenceSession, {
    run: (...args: Parameters<InferenceSession['run']>) => {
      runs++;
      return session.run(...args);
    },
  });
  return { session: counted, runs: () => runs };
}

/**
 * The tiny target on WebGPU with its KV cache on the device, placed and committed as the planner
 * opens it, with `copies` bringing what it leaves there to the host; and the same target with its
 * cache on the host, to compare with.
 */
async function deviceAndHostTargets(
  layout: CausalLmLayout,
  copies: Pick<CausalLmRunnerOptions, 'logitsCopy' | 'weightsCopy'>,
): Promise<[OnnxCausalLm, OnnxCausalLm]> {
  const file = join(TINY, 'target.onnx');
  const compaction = await createSession(
    compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype),
    WEBGPU,
    'drafter',
    compactionOutputLocations(layout.layers),
  );
  const placement = deviceCacheOutputLocations(layout);
  const session = await createSession(file, WEBGPU, 'target', placement);
  return [
    new OnnxCausalLm(session, layout, { maxContext: 64, compaction, ...copies }),
    new OnnxCausalLm(await createSession(file, WEBGPU), layout, { maxContext: 64 }),
  ];
}

describe('the tiny target and EAGLE-2 head on the WebGPU provider', () => {
  it('give EAGLE-2 greedy output equal to plain decoding on 5 prompts, and the CPU provider’s, with the KV cache on the device', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    const options = { drafter: 'eagle2', budget: 'fixed', tree: TREE, maxContext: 192 } as const;
    // A correctness test on a software adapter: the load's warm-up would only add time.
    const generator = await loadTreespec(TINY, { ...options, executionProvider: 'webgpu', warmUp: false });
    const cpu = await loadTreespec(TINY, options);
    try {
      let accepted = 0;
      for (const { id, prompt } of devPrompts(PROMPTS)) {
        const plain = await generator.generate(prompt, { maxTokens: TOKENS, plain: true });
        const speculative = await generator.generate(prompt, { maxTokens: TOKENS });
        const reference = await cpu.generate(prompt, { maxTokens: TOKENS, plain: true });
        expect(plain.tokens.length, id).toBe(TOKENS);
        expect(Array.from(speculative.tokens), id).toEqual(Array.from(plain.tokens));
        expect(Array.from(plain.tokens), id).toEqual(Array.from(reference.tokens));
        speculative.stats.acceptedLengths.forEach((steps, k) => {
          accepted += k * steps;
        });
      }
      // The comparison means something only if drafts were verified and some accepted.
      expect(accepted).toBeGreaterThan(0);
      // ... and if the cache was the device's: the last generation's rows are gpu-buffer tensors.
      const { cache } = generator.target as OnnxCausalLm;
      expect(cache).toBeInstanceOf(DeviceKvCache);
      expect((cache as DeviceKvCache).length).toBeGreaterThan(0);
      await (cache as DeviceKvCache).ready();
      expect((cache as DeviceKvCache).keyTensor(0).location).toBe('gpu-buffer');
      expect((generator.target as OnnxCausalLm).cacheLocation).toBe('gpu-buffer');
      expect((cpu.target as OnnxCausalLm).cacheLocation).toBe('cpu');
      expect((cpu.target as OnnxCausalLm).cache).not.toBeInstanceOf(DeviceKvCache);
    } finally {
      await generator.dispose();
      await cpu.dispose();
    }
  }, 300_000);

  it('leave the target’s logits on the device for greedy verifications, and copy them down, equal to the host cache’s, when read', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    const layout = causalLmLayout(targetEntry(TINY));
    const copy = await countedSession(logitsCopyModel(layout.vocabSize));
    const [device, host] = await deviceAndHostTargets(layout, { logitsCopy: copy.session });
    try {
      const tree = new DraftTree(6);
      tree.reset(1);
      for (const [i, parent] of [0, 0, 1, 1, 2].entries()) tree.add(parent, 300 + 37 * i, 0);
      const prompt = Int32Array.from(targetCases()[0]!.prompt_ids.slice(0, 16));
      await device.prefill(prompt);
      await host.prefill(prompt);
      const greedy = await device.verify(tree, { greedy: true });
      const tokens = greedy.greedyTokens!.slice();
      expect(greedy.logits.length).toBe(0);
      expect(copy.runs()).toBe(0);
      const read = Float32Array.from((await device.verify(tree)).logits);
      expect(copy.runs()).toBe(1);
      const { logits } = await host.verify(tree);
      expect(read).toEqual(logits);
      const vocab = layout.vocabSize;
      for (let row = 0; row < tree.size; row++) {
        expect(tokens[row], `row ${row}`).toBe(checkedArgmax(logits, row * vocab, vocab, row));
      }
    } finally {
      await device.dispose();
      await host.dispose();
    }
  }, 300_000);

  it('leave the sampled rows’ weights on the device, and copy them down, equal to the host cache’s, for the verifications that read them', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    const layout = causalLmLayout(targetEntry(TINY));
    const placement = deviceCacheOutputLocations(layout);
    // The weights, their sums and the unread captured feature stay on the device with the cache.
    for (const name of ['sample_weights', 'sample_mass', 'captured_feature'])
      expect(placement[name], name).toBe('gpu-buffer');
    const copy = await countedSession(weightsCopyModel(layout.vocabSize));
    const [device, host] = await deviceAndHostTargets(layout, {
      logitsCopy: await createSession(logitsCopyModel(layout.vocabSize), WEBGPU, 'drafter', {}),
      weightsCopy: copy.session,
    });
    try {
      const tree = new DraftTree(4);
      tree.reset(1);
      for (const parent of [0, 0, 1]) tree.add(parent, 300 + 37 * parent, 0);
      const prompt = Int32Array.from(targetCases()[0]!.prompt_ids.slice(0, 16));
      await device.prefill(prompt);
      await host.prefill(prompt);
      const uniforms = Float32Array.from({ length: 2 * tree.size }, (_, i) => ((i * 0.37) % 1) * 0.999);
      const drawn = await device.verify(tree, { sample: { uniforms, temperature: 1 } });
      expect(drawn.sampledTokens).toBeDefined();
      expect(copy.runs()).toBe(0);
      const sample = { uniforms, temperature: 1, weights: true } as const;
      const found = await device.verify(tree, { sample });
      expect(copy.runs()).toBe(1);
      const expected = await host.verify(tree, { sample });
      // Compared as the count of differing entries: a diff of 4 × 8192 floats takes minutes to print.
      const differing = (a: Float32Array, b: Float32Array) => a.filter((x, i) => x !== b[i]).length;
      expect(found.sampleWeights!.length).toBe(tree.size * layout.vocabSize);
      expect(differing(found.sampleWeights!, expected.sampleWeights!)).toBe(0);
      expect(Array.from(found.sampleMasses!)).toEqual(Array.from(expected.sampleMasses!));
      expect(Array.from(found.sampledTokens!)).toEqual(Array.from(expected.sampledTokens!));
    } finally {
      await device.dispose();
      await host.dispose();
    }
  }, 300_000);

  it('sample as the CPU provider does, the tokens drawn in the graph next to the logits on the device', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    // Top-k trees: their verification follows the tokens the target draws, so a seed gives plain
    // decoding's tokens.
    const options = { drafter: 'eagle2', tree: TREE, maxContext: 192, draftSampling: false } as const;
    const generator = await loadTreespec(TINY, { ...options, executionProvider: 'webgpu', warmUp: false });
    const cpu = await loadTreespec(TINY, options);
    try {
      expect((generator.target as OnnxCausalLm).cache).toBeInstanceOf(DeviceKvCache);
      expect((generator.target as OnnxCausalLm).sampledTokens).toBe(true);
      for (const { id, prompt } of devPrompts(3)) {
        const sampling = { maxTokens: TOKENS, temperature: 1, seed: 7 } as const;
        const plain = await generator.generate(prompt, { ...sampling, plain: true });
        const reference = await cpu.generate(prompt, { ...sampling, plain: true });
        expect(Array.from(plain.tokens), id).toEqual(Array.from(reference.tokens));
        const speculative = await generator.generate(prompt, sampling);
        expect(Array.from(speculative.tokens), id).toEqual(Array.from(plain.tokens));
      }
    } finally {
      await generator.dispose();
      await cpu.dispose();
    }
  }, 300_000);

  it('keep the target’s and the heads’ work on the device, crossing to the host only at their inputs and outputs', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    // The token ids go up. The greedy argmax (int64, which WebGPU has no kernels for, so it came
    // down to be cast), the heads' LogSoftmax and the sampler's int64 indices, which ran on the
    // host in the middle of each call, are gone (docs/benchmarks.md, "On a real GPU").
    expect(await webGpuHostCopies(join(TINY, 'target.onnx'))).toEqual(['MemcpyFromHost after ids']);
    // A head's top ids (TopK's int64 indices) come down to be mapped to target ids, and go back up
    // as floats to join its step output, which comes down whole at the end.
    expect(await webGpuHostCopies(join(TINY, 'eagle-head-fp32.onnx'))).toEqual([
      'MemcpyFromHost after Cast',
      'MemcpyFromHost after ids',
      'MemcpyToHost before TopK_1',
    ]);
    // (The cast's name ends in the graph builder's running count of repeated names.)
    expect(await webGpuHostCopies(join(TINY, 'eagle-head-context.onnx'))).toEqual([
      'MemcpyFromHost after context_ids',
      expect.stringMatching(/^MemcpyFromHost after Cast_\d+$/),
      'MemcpyFromHost after ids',
      'MemcpyToHost before TopK_1',
    ]);
  }, 120_000);

  it('run fused GroupQueryAttention as the CPU does for calls below 32 rows (the planner still refuses it)', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    // At 32 rows or more the WebGPU kernel's logits drift from the CPU's by 0.07–0.8 (ORT 1.30 on
    // lavapipe), which is why PROVIDER_SUPPORT lists no fused layout for webgpu.
    const [gpu, cpu] = [await fusedLogits(fusedDir!, 'webgpu', 31), await fusedLogits(fusedDir!, 'cpu', 31)];
    let worst = 0;
    for (let i = 0; i < cpu.length; i++) worst = Math.max(worst, Math.abs(gpu[i]! - cpu[i]!));
    expect(worst).toBeLessThan(1e-4);
    await expect(loadTreespec(fusedDir!, { executionProvider: 'webgpu' })).rejects.toThrow(
      ProviderSupportError,
    );
  }, 300_000);
});
