import { OptionError } from '@treespec/core';
import {
  type BudgetController,
  type HybridDrafter,
  ModelTreeDrafter,
  PricedModelFreeDrafter,
} from '@treespec/drafters';
import type { TextGenerator } from '@treespec/generator';
import {
  causalLmLayout,
  DeviceDraftKvCache,
  DeviceKvCache,
  HostDraftKvCache,
  type OnnxCausalLm,
} from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assemble, type OpenSession, type OutputPlacement, plan, preferModels } from '../src/index.js';
import { MODEL_DRAFTERS } from '../src/model-drafters.js';
import { devPrompts, openTinySession, tinyManifest, tinyTokenizer } from './tiny.js';

describe('assemble (the tiny bundle through onnxruntime-node)', () => {
  let generator: TextGenerator;
  beforeAll(async () => {
    const planned = plan(await tinyManifest(), {
      drafter: 'eagle2',
      drafters: ['draft-lm', 'lookup', 'suffix', 'hybrid'],
      tree: { topK: 4, frontier: 4, depth: 4, totalTokens: 17 },
    });
    generator = await assemble(planned, openTinySession, await tinyTokenizer());
  });
  afterAll(() => generator.dispose());

  it('builds every drafter of the plan; eagle2 and the hybrid share the head, each under a controller of its own', () => {
    expect(Object.keys(generator.drafters).sort()).toEqual([
      'draft-lm',
      'eagle2',
      'hybrid',
      'lookup',
      'suffix',
    ]);
    expect(generator.drafter?.name).toBe('eagle2');
    expect(generator.drafters.eagle2?.maxTreeSize).toBe(17);
    const eagle2 = generator.drafters.eagle2 as BudgetController;
    const hybridModel = (generator.drafters.hybrid as HybridDrafter).primary as BudgetController;
    // The hybrid calls its model drafter only on the steps it picks it, so a controller shared
    // with eagle2 would learn its plain runs and catch-ups from two different patterns of use.
    expect(hybridModel).not.toBe(eagle2);
    expect((hybridModel.inner as ModelTreeDrafter).model).toBe((eagle2.inner as ModelTreeDrafter).model);
  });

  it('prices lookup and suffix on their own under the auto budget, not under a fixed one', async () => {
    expect(generator.drafters.lookup).toBeInstanceOf(PricedModelFreeDrafter);
    expect(generator.drafters.suffix).toBeInstanceOf(PricedModelFreeDrafter);
    const manifest = await tinyManifest();
    expect(plan(manifest, { drafter: 'lookup' }).choices.modelFreePriced).toBe(true);
    expect(plan(manifest, { drafter: 'lookup', budget: 'fixed' }).choices.modelFreePriced).toBe(false);
    expect(plan(manifest, { drafter: 'lookup' }, 'wasm').choices.modelFreePriced).toBe(true);
  });

  it('keeps greedy output identical to plain decoding with every drafter', async () => {
    const [prompt] = await devPrompts(1);
    const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
    for (const drafter of Object.keys(generator.drafters)) {
      const result = await generator.generate(prompt, { maxTokens: 24, drafter });
      expect(Array.from(result.tokens), drafter).toEqual(Array.from(plain.tokens));
    }
  });

  it('grows the tree a generation asks for, within the capacity set at load, with the same output', async () => {
    const [prompt] = await devPrompts(1);
    const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
    const sizes: number[] = [];
    const result = await generator.generate(prompt, {
      maxTokens: 24,
      tree: { topK: 2, depth: 1, totalTokens: 4 },
      onStep: (event) => sizes.push(event.tree.size),
    });
    expect(Array.from(result.tokens)).toEqual(Array.from(plain.tokens));
    expect(Math.max(...sizes)).toBe(4);
    const draftLm = await generator.generate(prompt, {
      maxTokens: 24,
      drafter: 'draft-lm',
      tree: { depth: 0 },
    });
    expect(Array.from(draftLm.tokens)).toEqual(Array.from(plain.tokens));
    expect(draftLm.stats.tau).toBeLessThanOrEqual(2);
    // The hybrid's model drafter drafts the tree asked for, its model-free drafters beside it.
    const hybrid = generator.drafterFor({ drafter: 'hybrid', tree: { topK: 2, depth: 1, totalTokens: 4 } });
    expect(hybrid?.name).toBe('hybrid');
    expect((hybrid as HybridDrafter).primary.maxTreeSize).toBe(4);
    expect((hybrid as HybridDrafter).modelFree).toBe((generator.drafters.hybrid as HybridDrafter).modelFree);
    const viaHybrid = await generator.generate(prompt, {
      maxTokens: 24,
      drafter: 'hybrid',
      tree: { topK: 2, depth: 1, totalTokens: 4 },
    });
    expect(Array.from(viaHybrid.tokens)).toEqual(Array.from(plain.tokens));
  });

  it('refuses a per-call tree beyond the capacity, or for a drafter without a budget', async () => {
    expect(() => generator.drafterFor({ tree: { topK: 5 } })).toThrow(OptionError);
    expect(generator.drafterFor({ tree: { totalTokens: 18 } })?.maxTreeSize).toBe(18);
    expect(() => generator.drafterFor({ tree: { depth: 5 } })).toThrow(/capacity set at load/);
    expect(() => generator.drafterFor({ drafter: 'suffix', tree: { depth: 2 } })).toThrow(
      /"suffix" grows no budgeted tree/,
    );
    await expect(generator.generate('Hi', { tree: { topK: 5 } })).rejects.toThrow(/capacity set at load/);
  });
});

describe('sampled EAGLE trees at assembly', () => {
  async function kindsAt(generator: TextGenerator, temperature = 1): Promise<Set<string>> {
    const [prompt] = await devPrompts(1);
    const kinds = new Set<string>();
    await generator.generate(prompt, {
      maxTokens: 16,
      temperature,
      seed: 5,
      onStep: (event) => {
        // The kinds of the drafted trees (the last token, taken alone, has none).
        if (event.tree.size > 1) kinds.add(event.tree.candidateKind);
      },
    });
    return kinds;
  }

  it('are drawn by default from temperature 1, top-k trees below it, by every model drafter', async () => {
    const manifest = await tinyManifest();
    for (const [options, temperature, kind] of [
      [{ drafter: 'draft-lm' }, 0.7, 'deterministic'],
      [{ drafter: 'draft-lm' }, 1, 'sampled-distinct'],
      [{ drafter: 'eagle2' }, 0.7, 'deterministic'],
      [{ drafter: 'eagle2' }, 1, 'sampled-distinct'],
      [{ drafter: 'eagle2', draftSampling: false }, 1, 'deterministic'],
      [{ drafter: 'draft-lm', draftSampling: true }, 0.7, 'sampled-distinct'],
    ] as const) {
      const generator = await assemble(
        plan(manifest, { ...options, budget: 'fixed' }),
        openTinySession,
        await tinyTokenizer(),
      );
      try {
        expect([...(await kindsAt(generator, temperature))], options.drafter).toEqual([kind]);
      } finally {
        await generator.dispose();
      }
    }
    // The whole-vocabulary EAGLE-2 head samples from 1 too.
    const whole = plan(preferModels(manifest, ['eagle-head'], 'treespec.json'), {
      drafter: 'eagle2',
      budget: 'fixed',
    });
    const generator = await assemble(whole, openTinySession, await tinyTokenizer());
    try {
      expect([...(await kindsAt(generator))]).toEqual(['sampled-distinct']);
    } finally {
      await generator.dispose();
    }
    // Seven generators loaded and run one after another: seconds on a machine busy with other tests.
  }, 60_000);

  it('draw from the head’s logits when sampling', async () => {
    const planned = plan(await tinyManifest(), { drafter: 'eagle2', budget: 'fixed', draftSampling: true });
    const generator = await assemble(planned, openTinySession, await tinyTokenizer());
    try {
      expect([...(await kindsAt(generator))]).toEqual(['sampled-distinct']);
    } finally {
      await generator.dispose();
    }
  });

  it('are built for a per-call tree only when the generation samples', async () => {
    const planned = plan(await tinyManifest(), { drafter: 'eagle2', draftSampling: true });
    const generator = await assemble(planned, openTinySession, await tinyTokenizer());
    const sampled = vi.spyOn(MODEL_DRAFTERS.eagle2, 'sampled');
    try {
      const tree = { topK: 2, frontier: 1, depth: 1, totalTokens: 3 };
      generator.drafterFor({ tree });
      generator.drafterFor({ tree, temperature: 0 });
      expect(sampled).not.toHaveBeenCalled();
      generator.drafterFor({ tree, temperature: 1 });
      expect(sampled).toHaveBeenCalledTimes(1);
    } finally {
      sampled.mockRestore();
      await generator.dispose();
    }
  });

  it('draw over the draft vocabulary of an EAGLE-3 head when sampling', async () => {
    const planned = plan(await tinyManifest(), { drafter: 'eagle3', budget: 'fixed', draftSampling: true });
    const generator = await assemble(planned, openTinySession, await tinyTokenizer());
    try {
      expect([...(await kindsAt(generator))]).toEqual(['sampled-distinct']);
    } finally {
      await generator.dispose();
    }
  });

  it('stay top-k for a reduced head whose manifest predates the target ids of its draft vocabulary', async () => {
    const manifest = await tinyManifest();
    // The manifest claims an FR-Spec head without its target ids (the whole-vocabulary head, the
    // head with context tokens left out); the planner must not ask it for logits.
    const reduced = {
      ...manifest,
      models: manifest.models
        .filter((m) => m.id !== 'eagle-head-context')
        .map((m) =>
          m.role === 'eagle-head' ? { ...m, draftVocab: { size: 2048, source: 'frequency' as const } } : m,
        ),
    };
    // Sampling on by default, as under `auto` (asked for by name, plan() refuses such a head), with
    // the whole tree drafted every step so that every step's tree kind shows.
    const planned = { ...plan(reduced, { drafter: 'eagle2', budget: 'fixed' }), draftSampling: true };
    const generator = await assemble(planned, openTinySession, await tinyTokenizer());
    try {
      expect([...(await kindsAt(generator))]).toEqual(['deterministic']);
    } finally {
      await generator.dispose();
    }
  });
});

describe('assemble on a provider that keeps KV caches on the device (KV_CACHE_LOCATION)', () => {
  // Planned for webgpu, opened on the CPU provider: the device path's wiring and logic run here,
  // on host tensors (packages/node's webgpu test runs it on a WebGPU adapter).
  it('opens the target with its present and cache outputs, logits, sampled rows’ weights, unread feature and what its packed row outputs hold on the device, the EAGLE head with its present and cache outputs and what its step output holds there, a compaction graph beside each and the target’s logits and weights copies, with greedy output unchanged', async () => {
    const planned = plan(await tinyManifest(), { drafter: 'eagle2' }, 'webgpu');
    const placements = new Map<string, OutputPlacement | undefined>();
    const graphs: OutputPlacement[] = [];
    const generator = await assemble(
      planned,
      (model, outputs) => {
        placements.set(model.role, outputs);
        return openTinySession(model);
      },
      await tinyTokenizer(),
      (graph, outputs) => {
        graphs.push(outputs);
        return ort.InferenceSession.create(graph, { intraOpNumThreads: 1 });
      },
    );
    try {
      const { names } = causalLmLayout(planned.target);
      expect(placements.get('target')).toEqual(
        Object.fromEntries(
          [
            ...names.presentKeys,
            ...names.presentValues,
            ...names.cache!.keys,
            ...names.cache!.values,
            names.logits,
            names.sampler!.weights!,
            names.sampler!.mass!,
            ...names.unread!,
            names.feature,
            names.greedy!.token,
            names.greedy!.logitSum,
            names.sampler!.token,
          ].map((n) => [n, 'gpu-buffer']),
        ),
      );
      expect(placements.get('eagle-head')).toMatchObject({
        'present_key.0': 'gpu-buffer',
        'present_value.0': 'gpu-buffer',
        'cache_key.0': 'gpu-buffer',
        'cache_value.0': 'gpu-buffer',
        hidden: 'gpu-buffer',
        top_log_probs: 'gpu-buffer',
      });
      // The target's compaction, logits copy and weights copy (whose outputs come to the host), the
      // head's compaction.
      expect(graphs).toHaveLength(4);
      expect(graphs.filter((outputs) => Object.keys(outputs).length === 0)).toHaveLength(2);
      expect((generator.target as OnnxCausalLm).cache).toBeInstanceOf(DeviceKvCache);
      const head = (generator.drafters.eagle2 as BudgetController).inner as ModelTreeDrafter;
      expect(head).toBeInstanceOf(ModelTreeDrafter);
      expect((head.model as { cache?: unknown }).cache).toBeInstanceOf(DeviceDraftKvCache);
      const [prompt] = await devPrompts(1);
      const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
      const speculative = await generator.generate(prompt, { maxTokens: 24 });
      expect(Array.from(speculative.tokens)).toEqual(Array.from(plain.tokens));
      // Drafts were accepted, so commits kept tree rows through the compaction graphs.
      const accepted = speculative.stats.acceptedLengths.reduce((sum, steps, k) => sum + k * steps, 0);
      expect(accepted).toBeGreaterThan(0);
    } finally {
      await generator.dispose();
    }
  });

  it('keeps the target’s and the head’s caches on the host when the host opens no in-memory graphs', async () => {
    const planned = plan(await tinyManifest(), { drafter: 'eagle2' }, 'webgpu');
    const generator = await assemble(planned, openTinySession, await tinyTokenizer());
    try {
      expect((generator.target as OnnxCausalLm).cache).not.toBeInstanceOf(DeviceKvCache);
      const head = (generator.drafters.eagle2 as BudgetController).inner as ModelTreeDrafter;
      expect((head.model as { cache?: unknown }).cache).toBeInstanceOf(HostDraftKvCache);
    } finally {
      await generator.dispose();
    }
  });
});

describe('the warm-up at load', () => {
  /** Opens the tiny bundle's sessions, counting each one's runs by model id. */
  function countingSessions(runs: Map<string, number>): OpenSession {
    return async (model, outputs) => {
      const session = await openTinySession(model, outputs);
      const run = session.run.bind(session);
      runs.set(model.id, 0);
      session.run = ((...args: Parameters<typeof run>) => {
        runs.set(model.id, (runs.get(model.id) ?? 0) + 1);
        return run(...args);
      }) as typeof session.run;
      return session;
    };
  }

  it('runs every session before the first generation, and leaves the controllers nothing to unlearn', async () => {
    const runs = new Map<string, number>();
    const planned = plan(await tinyManifest(), { drafter: 'hybrid', drafters: ['eagle2', 'draft-lm'] });
    expect(planned.warmUpTokens).toBeGreaterThan(0);
    const generator = await assemble(planned, countingSessions(runs), await tinyTokenizer());
    try {
      expect([...runs.keys()].sort()).toEqual(['draft-int8', 'eagle-head-context', 'target']);
      for (const [id, count] of runs) expect(count, id).toBeGreaterThan(2);
      // The warm-up drafted with throwaway fixed-budget drafters: the controllers that generations
      // use have timed nothing yet.
      const eagle2 = generator.drafters.eagle2 as BudgetController;
      const hybridModel = (generator.drafters.hybrid as HybridDrafter).primary as BudgetController;
      for (const controller of [eagle2, hybridModel, generator.drafters['draft-lm'] as BudgetController]) {
        expect(controller.snapshot()).toEqual({ verifyMs: [], draftMs: [] });
      }
      const [prompt] = await devPrompts(1);
      const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
      for (const drafter of ['hybrid', 'eagle2', 'draft-lm']) {
        const result = await generator.generate(prompt, { maxTokens: 24, drafter });
        expect(Array.from(result.tokens), drafter).toEqual(Array.from(plain.tokens));
      }
    } finally {
      await generator.dispose();
    }
  });

  it('draws sampled tokens from the target at load unless told greedy', async () => {
    const manifest = await tinyManifest();
    const uniforms = manifest.models.find((m) => m.role === 'target')!.inputs.sampleUniforms!;
    for (const warmUp of [true, 'greedy'] as const) {
      let drawingCalls = 0;
      const open: OpenSession = async (model, outputs, unread) => {
        const session = await openTinySession(model, outputs, unread);
        if (model.role !== 'target') return session;
        const run = session.run.bind(session);
        session.run = ((feeds: Parameters<typeof run>[0], ...rest: unknown[]) => {
          if ((feeds[uniforms]?.dims[0] ?? 0) > 0) drawingCalls++;
          return (run as (...args: unknown[]) => ReturnType<typeof run>)(feeds, ...rest);
        }) as typeof session.run;
        return session;
      };
      const generator = await assemble(
        plan(manifest, { drafter: 'eagle2', warmUp }),
        open,
        await tinyTokenizer(),
      );
      await generator.dispose();
      if (warmUp === true) expect(drawingCalls).toBeGreaterThan(0);
      else expect(drawingCalls).toBe(0);
    }
  });

  it('samples too unless told greedy, and refuses any other value', async () => {
    const manifest = await tinyManifest();
    expect(plan(manifest, { drafter: 'eagle2' }).warmUpSampling).toBe(true);
    const greedy = plan(manifest, { drafter: 'eagle2', warmUp: 'greedy' });
    expect([greedy.warmUpTokens > 0, greedy.warmUpSampling]).toEqual([true, false]);
    expect(() => plan(manifest, { drafter: 'eagle2', warmUp: 'sampling' as 'greedy' })).toThrow(OptionError);
  });

  it('is skipped with warmUp: false', async () => {
    const runs = new Map<string, number>();
    const planned = plan(await tinyManifest(), { drafter: 'eagle2', warmUp: false });
    expect(planned.warmUpTokens).toBe(0);
    const generator = await assemble(planned, countingSessions(runs), await tinyTokenizer());
    try {
      expect([...runs.values()]).toEqual([0, 0]);
    } finally {
      await generator.dispose();
    }
  });
});
