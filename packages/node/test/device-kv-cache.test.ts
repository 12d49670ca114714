import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DraftTree, KeepPlan, OptionError, planKeep } from '@treespec/core';
import {
  type CausalLmLayout,
  capturedFeatureLayout,
  causalLmLayout,
  compactionModel,
  DeviceKvCache,
  deviceCacheOutputLocations,
  findModel,
  OnnxCausalLm,
  parseManifest,
  unreadOutputs,
} from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

/**
 * The device-resident KV cache's logic (a cache of ONNX Runtime's own output tensors: a call's
 * cache outputs where the commit keeps all its rows in order, else rows kept by the compaction
 * graph) on the CPU provider, where the same graphs run on host tensors, so that CI without a GPU
 * exercises it. test/webgpu.test.ts runs it on the device.
 */
const manifestPath = join(TINY, 'treespec.json');
const model = findModel(parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath), 'target');
const layout = causalLmLayout(model);
const MAX_TREE = 16;

/** Runs of the device runners' compaction sessions. */
let compactions = 0;

async function runner(onDevice: boolean, target: CausalLmLayout = layout): Promise<OnnxCausalLm> {
  const session = onDevice
    ? await createSession(compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype))
    : undefined;
  const compaction = session && {
    run: (feeds: Parameters<typeof session.run>[0]) => {
      compactions++;
      return session.run(feeds);
    },
    release: () => session.release(),
  };
  return new OnnxCausalLm(await createSession(join(TINY, model.file)), target, {
    maxContext: 256,
    maxTreeSize: MAX_TREE,
    prefillChunk: 5,
    ...(compaction ? { compaction: compaction as unknown as typeof session } : {}),
  });
}

function argmax(logits: Float32Array, row: number, vocab: number): number {
  let best = 0;
  for (let i = 1; i < vocab; i++) if (logits[row * vocab + i]! > logits[row * vocab + best]!) best = i;
  return best;
}

function maxAbsDiff(a: Float32Array, b: Float32Array, length: number): number {
  let worst = 0;
  for (let i = 0; i < length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** A seeded generator of uniform integers below `n` (mulberry32). */
function seeded(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

describe('a device-resident KV cache on the CPU provider', () => {
  it('gives speculative greedy output equal to the host cache’s plain decoding, with identical logits, on trees whose accepted rows are out of place', async () => {
    const host = await runner(false);
    const device = await runner(true);
    expect(host.cache).not.toBeInstanceOf(DeviceKvCache);
    expect(device.cache).toBeInstanceOf(DeviceKvCache);
    const vocab = layout.vocabSize;
    const random = seeded(12);
    try {
      for (const { prompt_ids: prompt } of targetCases().slice(0, 2)) {
        const total = 24;
        // Plain greedy decoding on the host cache: the reference output and the drafts' oracle.
        host.reset();
        await host.prefill(Int32Array.from(prompt.slice(0, -1)));
        const plain: number[] = [];
        const one = new DraftTree(1);
        const keepOne = new KeepPlan(1);
        let last = prompt[prompt.length - 1]!;
        for (let i = 0; i < total; i++) {
          one.reset(last);
          last = argmax((await host.verify(one)).logits, 0, vocab);
          host.commit(planKeep(one, Int32Array.from([0]), 1, keepOne));
          plain.push(last);
        }
        // Speculative decoding on both caches: most steps draft a tree of wrong siblings and, at a
        // random place among them, the oracle's next tokens, so that accepted paths skip rows;
        // every third step drafts the oracle's chain, which is accepted whole.
        host.reset();
        device.reset();
        await host.prefill(Int32Array.from(prompt.slice(0, -1)));
        await device.prefill(Int32Array.from(prompt.slice(0, -1)));
        expect(device.cachedLength).toBe(prompt.length - 1);
        const tree = new DraftTree(MAX_TREE);
        const keep = new KeepPlan(MAX_TREE);
        const path = new Int32Array(MAX_TREE);
        const output: number[] = [];
        let root = prompt[prompt.length - 1]!;
        let skipped = 0;
        let whole = 0;
        let step = 0;
        compactions = 0;
        while (output.length < total) {
          tree.reset(root);
          let parent = 0;
          const chain = step++ % 3 === 0;
          for (let depth = 0; depth < 3 && output.length + depth < total; depth++) {
            const siblings = chain ? 0 : 1 + random(3);
            const right = random(siblings + 1);
            let next = parent;
            for (let s = 0; s <= siblings; s++) {
              const token = s === right ? plain[output.length + depth]! : 7 + random(vocab - 7);
              const slot = tree.add(parent, token, 0);
              if (s === right) next = slot;
            }
            parent = next;
          }
          const hostStep = await host.verify(tree);
          const deviceStep = await device.verify(tree);
          // The same graph on the same cached rows: bit-identical logits (compared as one number,
          // since a diff of 16 × 8192 floats takes minutes to print).
          expect(maxAbsDiff(deviceStep.logits, hostStep.logits, tree.size * vocab)).toBe(0);
          // Greedy acceptance along the tree by the device runner's own logits.
          let length = 1;
          let node = 0;
          for (;;) {
            const wanted = argmax(deviceStep.logits, node, vocab);
            output.push(wanted);
            let child = -1;
            for (let c = node + 1; c < tree.size; c++)
              if (tree.parents[c] === node && tree.tokens[c] === wanted) child = c;
            if (child < 0 || output.length >= total) break;
            path[length++] = child;
            node = child;
          }
          planKeep(tree, path, length, keep);
          if (keep.firstMove < length) skipped++;
          if (length === tree.size) whole++;
          host.commit(keep);
          device.commit(keep);
          root = output[output.length - 1]!;
          expect(device.cachedLength).toBe(host.cachedLength);
        }
        expect(output.slice(0, total)).toEqual(plain);
        // The comparison means something only if some commits kept rows out of place, and some
        // kept every row, which take the verification's own cache outputs without a compaction.
        expect(skipped).toBeGreaterThan(0);
        expect(whole).toBeGreaterThan(0);
        await (device.cache as DeviceKvCache).ready();
        expect(compactions).toBe(step - whole);
      }
    } finally {
      await host.dispose();
      await device.dispose();
    }
  }, 120_000);

  it.each([
    ['the feature', layout],
    ['the captured states', capturedFeatureLayout(model)],
  ])(
    'reads %s, greedy tokens, logit sums and drawn tokens from the one packed output, equal to the host cache’s separate outputs',
    async (_, target) => {
      expect(target.names.rowOutputs).toBeDefined();
      const host = await runner(false, target);
      const device = await runner(true, target);
      try {
        const width = target.featureSize ?? target.hiddenSize;
        const prompt = Int32Array.from(targetCases()[0]!.prompt_ids);
        const prefilled = [
          await host.prefill(prompt, { features: true }),
          await device.prefill(prompt, { features: true }),
        ];
        expect(prefilled[1]!.features!.length).toBe(prompt.length * width);
        expect(Array.from(prefilled[1]!.features!)).toEqual(Array.from(prefilled[0]!.features!));
        const tree = new DraftTree(4);
        tree.reset(prompt[prompt.length - 1]!);
        tree.add(0, 40, 0);
        tree.add(0, 41, 0);
        tree.add(1, 42, 0);
        const uniforms = Float32Array.from([0.1, 0.9, 0.5, 0.5, 0.99, 0.01, 0.3, 0.7]);
        for (const options of [
          { features: true, greedy: true },
          { features: false, greedy: true },
          { features: true, sample: { uniforms, temperature: 0.8 } },
        ]) {
          const [fromHost, fromDevice] = [
            await host.verify(tree, options),
            await device.verify(tree, options),
          ];
          for (const key of ['greedyTokens', 'sampledTokens', 'logitSums'] as const) {
            expect(fromDevice[key] && Array.from(fromDevice[key])).toEqual(
              fromHost[key] && Array.from(fromHost[key]),
            );
          }
          expect(fromDevice.greedyTokens ?? fromDevice.sampledTokens).toHaveLength(tree.size);
          if (options.features)
            expect(Array.from(fromDevice.features!)).toEqual(Array.from(fromHost.features!));
          const keep = planKeep(tree, Int32Array.from([0]), 1, new KeepPlan(4));
          host.commit(keep);
          device.commit(keep);
        }
      } finally {
        await host.dispose();
        await device.dispose();
      }
    },
    60_000,
  );

  it('leaves on the device, placed for a GPU, every output but the packed row outputs it reads: the feature’s or the captured states’', async () => {
    // Opened as a device cache's model is, without the packed new entries only host caches read.
    const session = await createSession(
      join(TINY, model.file),
      {},
      'target',
      undefined,
      unreadOutputs(model, 'device'),
    );
    try {
      for (const [target, read] of [
        [layout, 'row_outputs'],
        [capturedFeatureLayout(model), 'captured_row_outputs'],
      ] as const) {
        const placement = deviceCacheOutputLocations(target);
        expect(target.names.rowOutputs).toBe(read);
        expect(session.outputNames.filter((name) => placement[name] !== 'gpu-buffer')).toEqual([read]);
      }
    } finally {
      await session.release();
    }
  });

  it('is refused with fused attention, whose cache is shared in place', async () => {
    const compaction = await createSession(
      compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype),
    );
    try {
      const session = await createSession(join(TINY, model.file));
      expect(() => new OnnxCausalLm(session, { ...layout, attention: 'fused' }, { compaction })).toThrow(
        OptionError,
      );
      await session.release();
    } finally {
      await compaction.release();
    }
  });
});
