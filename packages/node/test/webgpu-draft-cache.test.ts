import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BudgetController, ModelTreeDrafter } from '@treespec/drafters';
import {
  causalLmLayout,
  DeviceDraftKvCache,
  draftDeviceCacheSetup,
  eagle3HeadLayout,
  eagleHeadLayout,
  findModel,
  type ManifestModel,
  OnnxDraftLm,
  OnnxEagle3Head,
  OnnxEagleHead,
  parseManifest,
} from '@treespec/onnx';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { runDraftScript } from './draft-cache-script.js';
import { devPrompts, TINY } from './tiny.js';
import { webGpuUnavailable } from './webgpu-adapter.js';

/**
 * The draft models' KV caches on onnxruntime-node's WebGPU provider (Mesa's lavapipe without a
 * GPU; see test/webgpu.test.ts for what it needs): the EAGLE-2 and EAGLE-3 heads' and the draft
 * LM's caches stay on the device there (the planner's KV_CACHE_LOCATION), appended by the
 * compaction graph; test/device-draft-kv-cache.test.ts runs the same logic on the CPU provider. Lavapipe takes
 * hundreds of milliseconds per target call, so the generations are short and the trees small.
 */
const TOKENS = 4;
const PROMPTS = 3;
/** Small trees, drafted whole every step (`budget: 'fixed'`), so that every step drafts and verifies. */
const TREE = { topK: 2, depth: 2, totalTokens: 4 };

/** Why WebGPU cannot run here, or null when an adapter exists. */
let unavailable: string | null = null;

beforeAll(async () => {
  unavailable = await webGpuUnavailable();
}, 120_000);

/** `model`'s runner on WebGPU: with a host cache, or `onDevice` with its cache on the device. */
async function openRunner(
  model: ManifestModel,
  onDevice: boolean,
): Promise<OnnxEagleHead | OnnxEagle3Head | OnnxDraftLm> {
  const webgpu = { executionProvider: 'webgpu' } as const;
  const file = join(TINY, model.file);
  const setup = onDevice ? draftDeviceCacheSetup(model, false) : null;
  const session = await createSession(file, webgpu, 'drafter', setup?.modelOutputs);
  const compaction = setup
    ? await createSession(setup.compaction, webgpu, 'drafter', setup.compactionOutputs)
    : undefined;
  const options = {
    maxContext: 64,
    chunk: 3,
    maxDraftBatch: 4,
    maxK: 4,
    ...(compaction ? { compaction } : {}),
  };
  if (model.role === 'eagle-head') return new OnnxEagleHead(session, eagleHeadLayout(model), options);
  if (model.role === 'eagle3-head') return new OnnxEagle3Head(session, eagle3HeadLayout(model), options);
  return new OnnxDraftLm(session, causalLmLayout(model), options);
}

describe('the draft models on the WebGPU provider, with their KV caches on the device', () => {
  it('give EAGLE-2, EAGLE-3 and draft-LM greedy output equal to plain decoding on 3 prompts, with the heads’ and the draft LM’s cache tensors on gpu-buffer', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    const generator = await loadTreespec(TINY, {
      drafters: ['eagle2', 'eagle3', 'draft-lm'],
      budget: 'fixed',
      tree: TREE,
      draftTree: TREE,
      maxContext: 160,
      executionProvider: 'webgpu',
      tuningCache: false,
      // A correctness test on a software adapter, where each call costs tens of milliseconds: the
      // load's warm-up (which only steadies the budget controllers' timings) would add about 20 s.
      warmUp: false,
    });
    try {
      const runners = (['eagle2', 'eagle3', 'draft-lm'] as const).map((name) => {
        const inner = (generator.drafters[name] as BudgetController).inner;
        expect(inner).toBeInstanceOf(ModelTreeDrafter);
        return (inner as ModelTreeDrafter).model;
      });
      const [head, head3, draftLm] = runners as [OnnxEagleHead, OnnxEagle3Head, OnnxDraftLm];
      expect(head).toBeInstanceOf(OnnxEagleHead);
      expect(head3).toBeInstanceOf(OnnxEagle3Head);
      expect(draftLm).toBeInstanceOf(OnnxDraftLm);
      const accepted = { eagle2: 0, eagle3: 0, 'draft-lm': 0 };
      for (const { id, prompt } of devPrompts(PROMPTS)) {
        const plain = await generator.generate(prompt, { maxTokens: TOKENS, plain: true });
        expect(plain.tokens.length, id).toBe(TOKENS);
        for (const drafter of ['eagle2', 'eagle3', 'draft-lm'] as const) {
          const speculative = await generator.generate(prompt, { maxTokens: TOKENS, drafter });
          expect(Array.from(speculative.tokens), `${id} ${drafter}`).toEqual(Array.from(plain.tokens));
          speculative.stats.acceptedLengths.forEach((steps, k) => {
            accepted[drafter] += k * steps;
          });
        }
      }
      // The comparisons mean something only if drafts were verified and accepted (the shipped
      // EAGLE-3 head is weak, so only the two others are required to have been accepted).
      expect(accepted.eagle2).toBeGreaterThan(0);
      expect(accepted['draft-lm']).toBeGreaterThan(0);
      // ... and if the caches were the device's: the last generation's rows are gpu-buffer tensors.
      for (const runner of [head, head3, draftLm]) {
        expect(runner.cache).toBeInstanceOf(DeviceDraftKvCache);
        const cache = runner.cache as DeviceDraftKvCache;
        await cache.ready();
        expect(cache.length).toBeGreaterThan(0);
        expect(cache.keyTensor(0).location).toBe('gpu-buffer');
        expect(runner.cacheLocation).toBe('gpu-buffer');
      }
    } finally {
      await generator.dispose();
    }
  }, 120_000);

  it('give the EAGLE-2 head’s, the EAGLE-3 head’s and the draft LM’s steps of a host cache bit for bit, through rounds whose drafts the next commit drops', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    const manifestPath = join(TINY, 'treespec.json');
    const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
    for (const role of ['eagle-head', 'eagle3-head', 'draft'] as const) {
      const model = findModel(manifest, role);
      const host = await openRunner(model, false);
      const gpu = await openRunner(model, true);
      try {
        const expected = await runDraftScript(host, 5);
        const found = await runDraftScript(gpu, 5);
        expect(found.length).toBe(expected.length);
        for (let i = 0; i < expected.length; i++)
          expect(found[i], `${model.role} ${expected[i]!.call}`).toEqual(expected[i]);
        expect(host.cacheLocation).toBe('cpu');
        await (gpu.cache as DeviceDraftKvCache).ready();
        expect(gpu.cacheLocation, model.role).toBe('gpu-buffer');
      } finally {
        await host.dispose();
        await gpu.dispose();
      }
    }
  }, 120_000);
});
