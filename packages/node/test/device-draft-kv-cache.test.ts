import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContractError } from '@treespec/core';
import {
  causalLmLayout,
  compactionNames,
  DeviceDraftKvCache,
  type DraftModelRunnerOptions,
  draftDeviceCacheSetup,
  eagle3HeadLayout,
  eagleHeadLayout,
  findModel,
  HostDraftKvCache,
  type ManifestModel,
  OnnxDraftLm,
  OnnxEagle3Head,
  OnnxEagleHead,
  parseManifest,
} from '@treespec/onnx';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { runDraftScript } from './draft-cache-script.js';
import { TINY } from './tiny.js';

/**
 * The draft models' device-resident KV cache logic (ONNX Runtime's own output tensors: each call's
 * cache outputs, or for bundles without them rows appended by the compaction graph; the committed
 * rows kept apart from a round's drafts) on the CPU provider, where the same graphs run on host
 * tensors, so that CI without a GPU exercises it. test/webgpu-draft-cache.test.ts runs it on the
 * device.
 */
const manifestPath = join(TINY, 'treespec.json');
const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
const head = findModel(manifest, 'eagle-head');
const eagle3 = findModel(manifest, 'eagle3-head');
const draftLm = findModel(manifest, 'draft');
/** Small chunks and batches, so that a prompt takes several commit calls. */
const OPTIONS: DraftModelRunnerOptions = { maxContext: 64, chunk: 3, maxDraftBatch: 4, maxK: 4 };

type Runner = OnnxEagleHead | OnnxEagle3Head | OnnxDraftLm;

/** `model` as a bundle converted before models output their cache after each call describes it. */
function withoutCacheOutputs(model: ManifestModel): ManifestModel {
  const { cacheKey: _key, cacheValue: _value, ...outputs } = model.outputs;
  return { ...model, outputs };
}

/** `model` as a bundle converted before heads output their step in one tensor describes it. */
function withoutStepOutputs(model: ManifestModel): ManifestModel {
  const { stepOutputs: _step, ...outputs } = model.outputs;
  return { ...model, outputs };
}

/** `session` counting its runs. */
function counted(session: InferenceSession): { session: InferenceSession; runs: number } {
  const state = { runs: 0, session };
  state.session = {
    run: (feeds: Record<string, Tensor>) => {
      state.runs++;
      return session.run(feeds);
    },
    release: () => session.release(),
  } as InferenceSession;
  return state;
}

/** `model`'s runner on the CPU provider: with a host cache, or with `compaction` a device cache. */
async function open(model: ManifestModel, compaction?: InferenceSession): Promise<Runner> {
  const session = await createSession(join(TINY, model.file), {}, 'drafter');
  const options = { ...OPTIONS, ...(compaction ? { compaction } : {}) };
  if (model.role === 'eagle-head') return new OnnxEagleHead(session, eagleHeadLayout(model), options);
  if (model.role === 'eagle3-head') return new OnnxEagle3Head(session, eagle3HeadLayout(model), options);
  return new OnnxDraftLm(session, causalLmLayout(model), options);
}

/** The compaction session `draftDeviceCacheSetup` asks for, on the CPU provider. */
function compactionFor(model: ManifestModel): Promise<InferenceSession> {
  return createSession(draftDeviceCacheSetup(model, false).compaction);
}

/**
 * A compaction session that appends a call's new rows in reverse order (a wrong commit), to show
 * that the comparison below catches one.
 */
async function reversingCompaction(model: ManifestModel): Promise<InferenceSession> {
  const session = await compactionFor(model);
  const { keep } = compactionNames(1);
  return {
    run: (feeds: Record<string, Tensor>) => {
      const rows = BigInt64Array.from(feeds[keep]!.data as BigInt64Array).reverse();
      return session.run({ ...feeds, [keep]: new Tensor('int64', rows, [rows.length]) });
    },
    release: () => session.release(),
  } as InferenceSession;
}

describe('a draft model’s device-resident KV cache on the CPU provider', () => {
  const variants = [head, eagle3, draftLm].flatMap((model) => [
    { model, how: 'taking each call’s cache outputs' },
    { model: withoutCacheOutputs(model), how: 'appending with the compaction graph (an older bundle)' },
  ]);
  for (const { model, how } of variants) {
    it(`${model.role}, ${how}: every commit and draft step equals the host cache’s, bit for bit, through rounds whose drafts the next commit drops`, async () => {
      const host = await open(model);
      const compaction = counted(await compactionFor(model));
      const device = await open(model, compaction.session);
      try {
        expect(host.cache).toBeInstanceOf(HostDraftKvCache);
        expect(device.cache).toBeInstanceOf(DeviceDraftKvCache);
        const expected = await runDraftScript(host, 5);
        const found = await runDraftScript(device, 5);
        expect(found.length).toBe(expected.length);
        for (let i = 0; i < expected.length; i++) expect(found[i], expected[i]!.call).toEqual(expected[i]);
        expect(device.committedRows).toBe(host.committedRows);
        expect(device.cache.length).toBe(host.cache.length);
        await (device.cache as DeviceDraftKvCache).ready();
        expect((device.cache as DeviceDraftKvCache).keyTensor(0).dims[1]).toBe(host.cache.length);
        expect(device.cacheLocation).toBe('cpu');
        if (model.outputs.cacheKey) expect(compaction.runs).toBe(0);
        else expect(compaction.runs).toBeGreaterThan(0);
      } finally {
        await host.dispose();
        await device.dispose();
      }
    }, 60_000);
  }

  for (const model of manifest.models.filter((m) => m.graph !== 'causal-lm')) {
    it(`${model.id}: reads each call's hidden states, top log-probabilities and top ids from its one step output, as from the separate outputs`, async () => {
      expect(model.outputs.stepOutputs).toBe('step_outputs');
      const packed = await open(model);
      const separate = await open(withoutStepOutputs(model));
      try {
        const expected = await runDraftScript(separate, 7);
        const found = await runDraftScript(packed, 7);
        expect(found).toEqual(expected);
        expect(found.some((c) => c.topTokens.some((t) => t > 255))).toBe(true);
      } finally {
        await packed.dispose();
        await separate.dispose();
      }
    }, 60_000);
  }

  it('refuses a step output of another size than the call’s scored rows and k ask for, naming both sizes', async () => {
    const session = await createSession(join(TINY, head.file), {}, 'drafter');
    const truncating = {
      run: async (feeds: Record<string, Tensor>, fetches: readonly string[]) => {
        const out = await session.run(feeds, fetches);
        const step = out.step_outputs!.data as Float32Array;
        return { ...out, step_outputs: new Tensor('float32', step.subarray(1), [1, step.length - 1]) };
      },
      release: () => session.release(),
    } as unknown as InferenceSession;
    const runner = new OnnxEagleHead(truncating, eagleHeadLayout(head), OPTIONS);
    try {
      await expect(runDraftScript(runner, 3)).rejects.toThrow(
        'expected step_outputs to hold 390 values (1 scored rows × 384 hidden values, 3 log-probabilities and 3 ids); found 389',
      );
      await expect(runDraftScript(runner, 3)).rejects.toThrow(ContractError);
    } finally {
      await runner.dispose();
    }
  });

  it('tells a wrong commit apart: rows appended in the wrong order change the steps', async () => {
    const older = withoutCacheOutputs(head);
    const host = await open(older);
    const wrong = await open(older, await reversingCompaction(older));
    try {
      const expected = await runDraftScript(host, 5);
      const found = await runDraftScript(wrong, 5);
      // Causal and tree biases mask by column, so rows out of place change what a row attends to:
      // differences far above a reordered sum's rounding.
      let worst = 0;
      for (let i = 0; i < expected.length; i++) {
        const [a, b] = [found[i]!.values, expected[i]!.values];
        for (let j = 0; j < b.length; j++) worst = Math.max(worst, Math.abs(a[j]! - b[j]!));
      }
      expect(worst).toBeGreaterThan(0.1);
    } finally {
      await host.dispose();
      await wrong.dispose();
    }
  }, 60_000);

  it('refuses committed rows on top of a round’s drafts that were not dropped', async () => {
    const compaction = await compactionFor(head);
    const runner = await open(head, compaction);
    try {
      await runDraftScript(runner, 3);
      const cache = runner.cache as DeviceDraftKvCache;
      const at = runner.committedRows;
      await runner.draft(
        Int32Array.of(9),
        new Float32Array(runner.featureSize),
        Int32Array.of(at),
        new Float32Array(at + 1),
        1,
        2,
      );
      expect(cache.length).toBe(at + 1);
      await expect(cache.run(runner.session, {}, [], 1, true)).rejects.toThrow(ContractError);
    } finally {
      await runner.dispose();
    }
  });

  it('places a draft model’s cache outputs, and the outputs its runner does not read, on the device', () => {
    const headLayout = eagleHeadLayout(head);
    const lmLayout = causalLmLayout(draftLm);
    const onDevice = (names: string[]) => Object.fromEntries(names.map((n) => [n, 'gpu-buffer']));
    const { presentKey, presentValue, cache, logits, hidden, topLogProbs, stepOutputs } = headLayout.names;
    // Its step comes to the host in one tensor; the parts it packs stay on the device.
    expect(stepOutputs).toBe('step_outputs');
    const packed = [hidden, topLogProbs];
    expect(draftDeviceCacheSetup(head, false).modelOutputs).toEqual(
      onDevice([presentKey, presentValue, cache!.key, cache!.value, logits, ...packed]),
    );
    // A head drawing sampled trees reads its logits on the host.
    expect(draftDeviceCacheSetup(head, true).modelOutputs).toEqual(
      onDevice([presentKey, presentValue, cache!.key, cache!.value, ...packed]),
    );
    const { presentKeys, presentValues, cache: lmCache, feature } = lmLayout.names;
    expect(draftDeviceCacheSetup(draftLm, false).modelOutputs).toEqual(
      onDevice([...presentKeys, ...presentValues, ...lmCache!.keys, ...lmCache!.values, feature]),
    );
    expect(Object.keys(draftDeviceCacheSetup(draftLm, false).compactionOutputs)).toHaveLength(
      2 * lmLayout.layers,
    );
  });
});
