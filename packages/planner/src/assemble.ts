import {
  type ChatTokenizer,
  type Drafter,
  type DraftModel,
  type DynamicTreeOptions,
  OptionError,
  StaticTreeGrowth,
  type TreeGrowth,
} from '@treespec/core';
import {
  controlModelDrafter,
  HybridDrafter,
  type ModelTreeDrafter,
  sampledTreeGrowth,
} from '@treespec/drafters';
import { TextGenerator } from '@treespec/generator';
import {
  capturedFeatureLayout,
  causalLmLayout,
  compactionModel,
  compactionOutputLocations,
  deviceCacheOutputLocations,
  draftDeviceCacheSetup,
  logitsCopyModel,
  logitsStayOnDevice,
  type ManifestModel,
  OnnxCausalLm,
  type OutputPlacement,
  unreadOutputs,
  weightsCopyModel,
} from '@treespec/onnx';
import type { InferenceSession } from 'onnxruntime-common';
import { mergeTree, startTree } from './budgets.js';
import { DRAFTERS, type DrafterContext } from './drafter-table.js';
import { MODEL_DRAFTERS, type ModelDrafterName, sampledTreesFrom } from './model-drafters.js';
import type { Plan } from './plan.js';
import { kvCacheLocation } from './provider-support.js';
import { growthFor } from './tree-growth.js';
import { warmUp } from './warm-up.js';

/**
 * Opens an ONNX Runtime session for one model of the plan: the host's job (files, fetches,
 * providers). `outputs`, when given, is the session's `preferredOutputLocation`. `unread` names
 * outputs no runner of the plan fetches from this session: the host opens the graph without them
 * (`withoutOutputs` of @treespec/onnx), and without what computes only them.
 */
export type OpenSession = (
  model: ManifestModel,
  outputs?: OutputPlacement,
  unread?: readonly string[],
) => Promise<InferenceSession>;

/**
 * Opens a graph built in memory (the KV cache's compaction graph) on the provider of the plan's
 * target, with `outputs` as its `preferredOutputLocation`.
 */
export type OpenGraph = (model: Uint8Array, outputs: OutputPlacement) => Promise<InferenceSession>;

/**
 * The target verifies trees of at least this many nodes, so that drafters composed later with the
 * same target (e.g. a `TextGenerator` over `generator.target`) fit without reloading; the cost is
 * preallocated buffers of this many rows.
 */
const MIN_VERIFIABLE_TREE = 64;

/**
 * A draft model as loaded: its runner, the growth its buffers were sized for, and how to put a
 * drafter over it under a budget controller of its own.
 */
interface LoadedModelDrafter {
  readonly runner: DraftModel;
  readonly capacity: TreeGrowth;
  control(): Drafter;
  /**
   * A drafter of sampled trees within a generation's own tree (and the load's sampled trees, whose
   * buffers it uses), for the sampling generations of a load that draws sampled trees; else null.
   */
  sampledWithin: ((tree: DynamicTreeOptions) => ModelTreeDrafter) | null;
  /** The temperature from which sampling generations draw sampled trees ({@link sampledTreesFrom}). */
  readonly samplingFrom: number;
}

/**
 * Builds the {@link TextGenerator} a {@link Plan} describes: opens the draft models' sessions
 * (each draft model once, shared by the drafters over it), makes every planned drafter from the drafter table, then
 * opens the target sized for the largest tree. Generations may ask for another tree budget
 * (`TextGenerateOptions.tree`, for the hybrid its model drafter's) within the capacity set here. Where the plan's provider keeps KV
 * caches on the device ({@link kvCacheLocation}) and the host can open in-memory graphs
 * (`openGraph`), the target's and the draft models' caches stay there, committed by compaction
 * graphs. Last, the load's warm-up runs every session once; `signal` (the load's) cuts it short.
 * Where any of it fails, the sessions it opened are released before the error is thrown (where the
 * warm-up fails, by disposing the generator, whose runners free their caches too).
 */
export async function assemble(
  plan: Plan,
  openSession: OpenSession,
  tokenizer: ChatTokenizer,
  openGraph?: OpenGraph,
  signal?: AbortSignal,
): Promise<TextGenerator> {
  const opened: InferenceSession[] = [];
  const kept = async (session: Promise<InferenceSession>) => {
    const open = await session;
    opened.push(open);
    return open;
  };
  let assembled: Assembled;
  try {
    assembled = await assembleSessions(
      plan,
      (model, outputs, unread) => kept(openSession(model, outputs, unread)),
      tokenizer,
      openGraph && ((model, outputs) => kept(openGraph(model, outputs))),
    );
  } catch (error) {
    await Promise.allSettled(opened.map((session) => session.release()));
    throw error;
  }
  const { generator, toWarmUp } = assembled;
  try {
    await warmUp(generator, toWarmUp, plan.warmUpTokens, plan.warmUpSampling, signal);
  } catch (error) {
    // The runners hold more than their sessions (a device cache's tensors, a draft model's): their
    // own disposal frees it all, rather than the collector some time later.
    await generator.dispose().catch(() => {});
    throw error;
  }
  return generator;
}

/** What {@link assembleSessions} built: the generator, and the drafters its warm-up runs. */
interface Assembled {
  readonly generator: TextGenerator;
  readonly toWarmUp: readonly string[];
}

/** {@link assemble} up to its warm-up, with sessions its caller releases where it fails. */
async function assembleSessions(
  plan: Plan,
  openSession: OpenSession,
  tokenizer: ChatTokenizer,
  openGraph: OpenGraph | undefined,
): Promise<Assembled> {
  const loaded = new Map<ModelDrafterName, Promise<LoadedModelDrafter>>();
  const loadModelDrafter = (name: ModelDrafterName): Promise<LoadedModelDrafter> => {
    let found = loaded.get(name);
    if (!found) {
      found = openModelDrafter(plan, name, openSession, openGraph);
      loaded.set(name, found);
    }
    return found;
  };
  const models = new Map<Drafter, [ModelDrafterName, LoadedModelDrafter]>();
  let corpus: ArrayLike<number>[] | undefined;
  const context: DrafterContext = {
    choices: plan.choices,
    corpus: () => {
      corpus ??= plan.corpus?.map((doc) =>
        typeof doc === 'string' ? tokenizer.encode(doc, { addSpecialTokens: false }) : doc,
      );
      return corpus;
    },
    modelDrafter: async (name) => {
      const model = await loadModelDrafter(name);
      const drafter = model.control();
      models.set(drafter, [name, model]);
      return drafter;
    },
  };
  const drafters: Record<string, Drafter> = {};
  for (const name of plan.drafters) drafters[name] = await DRAFTERS[name].make(context);
  const treeSizes = Object.values(drafters).map((d) => d.maxTreeSize);
  // An EAGLE-3 head reads the target's captured layer inputs, which the target then also fetches.
  const layout = (loaded.has('eagle3') ? capturedFeatureLayout : causalLmLayout)(plan.target);
  const onDevice = openGraph !== undefined && kvCacheLocation(plan.target, plan.device) === 'device';
  // Each kind of cache leaves outputs unread: a host cache the cache after a call, the packed row
  // outputs and the per-layer new entries it fetches packed; a device cache the packed entries.
  const session = onDevice
    ? await openSession(plan.target, deviceCacheOutputLocations(layout), unreadOutputs(plan.target, 'device'))
    : await openSession(plan.target, undefined, unreadOutputs(plan.target, 'host'));
  const compaction = onDevice
    ? await openGraph(
        compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype),
        compactionOutputLocations(layout.layers),
      )
    : undefined;
  // Logits left on the device come down only for the calls that read them.
  const logitsCopy =
    onDevice && logitsStayOnDevice(layout)
      ? await openGraph(logitsCopyModel(layout.vocabSize), {})
      : undefined;
  // So do sampled rows' weights, which only verifications of sampled trees read.
  const weightsCopy =
    onDevice && layout.names.sampler?.weights
      ? await openGraph(weightsCopyModel(layout.vocabSize), {})
      : undefined;
  const target = new OnnxCausalLm(session, layout, {
    maxContext: plan.maxContext,
    maxTreeSize: Math.min(Math.max(MIN_VERIFIABLE_TREE, ...treeSizes), plan.maxContext),
    ...(compaction ? { compaction } : {}),
    ...(logitsCopy ? { logitsCopy } : {}),
    ...(weightsCopy ? { weightsCopy } : {}),
  });
  const generator = new TextGenerator({
    tokenizer,
    target,
    drafters,
    defaultDrafter: plan.defaultDrafter,
    ...(plan.maxQueued !== undefined ? { maxQueued: plan.maxQueued } : {}),
    withTree: (drafter, tree, sampling) => {
      // A tree asked of the hybrid is its model drafter's; the model-free drafters stay beside it.
      const hybrid = drafter instanceof HybridDrafter ? drafter : null;
      const found = models.get(hybrid ? hybrid.primary : drafter);
      if (!found) {
        throw new OptionError(
          'tree',
          tree,
          `a generation by a model drafter (${Object.keys(MODEL_DRAFTERS).join(', ')}) or the hybrid; ` +
            `"${drafter.name}" grows no budgeted tree`,
        );
      }
      const [name, model] = found;
      const entry = MODEL_DRAFTERS[name];
      const growth = growthFor(mergeTree(plan.budgets[entry.budget], tree), plan.choices.adaptive);
      requireWithin(growth, model.capacity, target.maxTreeSize, tree);
      // A tree asked for per call is drafted whole every step (an explicit, fixed budget); its
      // controller only measures, so the generation's stats still carry the step costs. Only a
      // sampling generation gets the sampled drafter (its sampler holds nodes × vocabulary floats).
      const fixed = controlModelDrafter(entry.make(model.runner, growth, plan.headPromptRows), {
        budget: 'fixed',
        ...(sampling && model.sampledWithin
          ? { sampling: model.sampledWithin(tree), samplingFrom: model.samplingFrom }
          : {}),
      });
      return hybrid
        ? new HybridDrafter(fixed, hybrid.modelFree, { policy: hybrid.policy, minMatch: hybrid.minMatch })
        : fixed;
    },
  });
  return { generator, toWarmUp: warmUpDrafters(drafters, models) };
}

/**
 * One drafter name per loaded draft model, a model drafter's own name before the hybrid's (whose
 * model-free drafters need no warming).
 */
function warmUpDrafters(
  drafters: Readonly<Record<string, Drafter>>,
  models: ReadonlyMap<Drafter, readonly [ModelDrafterName, LoadedModelDrafter]>,
): string[] {
  const names: string[] = [];
  const warmed = new Set<LoadedModelDrafter>();
  const entries = Object.entries(drafters).sort(
    ([, a], [, b]) => Number(a instanceof HybridDrafter) - Number(b instanceof HybridDrafter),
  );
  for (const [name, drafter] of entries) {
    const found = models.get(drafter instanceof HybridDrafter ? drafter.primary : drafter);
    if (!found || warmed.has(found[1])) continue;
    warmed.add(found[1]);
    names.push(name);
  }
  return names;
}

async function openModelDrafter(
  plan: Plan,
  name: ModelDrafterName,
  openSession: OpenSession,
  openGraph: OpenGraph | undefined,
): Promise<LoadedModelDrafter> {
  const entry = MODEL_DRAFTERS[name];
  const model = plan.draftModels[entry.role];
  if (!model) throw new OptionError('drafter', name, `a drafter the plan loads a ${entry.role} for`);
  const growth = growthFor(plan.budgets[entry.budget], plan.choices.adaptive, entry.budget);
  const samplingFrom = sampledTreesFrom(plan.draftSampling);
  const samples =
    samplingFrom !== Number.POSITIVE_INFINITY &&
    'sampled' in entry &&
    (!('canSample' in entry) || entry.canSample(model));
  const sampled = samples ? sampledTreeGrowth(plan.sampledBounds[entry.budget]) : null;
  const growths = sampled ? [growth, sampled] : [growth];
  const device =
    openGraph && kvCacheLocation(model, plan.device) === 'device'
      ? { open: openGraph, ...draftDeviceCacheSetup(model, sampled !== null) }
      : null;
  const session = device
    ? await openSession(model, device.modelOutputs, unreadOutputs(model, 'device'))
    : await openSession(model, undefined, unreadOutputs(model, 'host'));
  const compaction = device ? await device.open(device.compaction, device.compactionOutputs) : undefined;
  const runner = entry.open(session, model, {
    ...(compaction ? { compaction } : {}),
    maxContext: plan.maxContext,
    maxDraftBatch: Math.max(...growths.map((g) => g.maxFrontier)),
    maxK: Math.max(...growths.map((g) => g.maxChildren)),
    maxDraftRows: Math.max(...growths.map((g) => g.maxNodes)),
    logits: sampled !== null,
  });
  const seed = plan.controllerSeeds[name];
  const control = () =>
    controlModelDrafter(entry.make(runner, growth, plan.headPromptRows), {
      budget: plan.budgetMode,
      start: startTree(plan.startBudgets[entry.budget]),
      ...(seed ? { seed } : {}),
      ...(sampled && 'sampled' in entry
        ? { sampling: entry.sampled(runner, sampled, plan.headPromptRows), samplingFrom }
        : {}),
    });
  const sampledWithin =
    sampled && 'sampled' in entry
      ? (tree: DynamicTreeOptions) =>
          entry.sampled(runner, new StaticTreeGrowth(sampled.shape.within(tree)), plan.headPromptRows)
      : null;
  return { runner, capacity: growth, control, sampledWithin, samplingFrom };
}

/** Throws unless trees of `growth` fit the buffers allocated for `capacity` and the target's. */
function requireWithin(
  growth: TreeGrowth,
  capacity: TreeGrowth,
  maxTreeSize: number,
  given: DynamicTreeOptions,
): void {
  if (
    growth.maxChildren <= capacity.maxChildren &&
    growth.maxFrontier <= capacity.maxFrontier &&
    growth.maxNodes <= capacity.maxNodes &&
    growth.maxTreeSize <= maxTreeSize
  ) {
    return;
  }
  // A topK given without a frontier sets the frontier too (as in core's DynamicTreeGrowth).
  const impliedFrontier =
    given.frontier === undefined && given.topK !== undefined && growth.maxFrontier > capacity.maxFrontier
      ? `; a topK given without a frontier sets the frontier too, so give frontier ≤ ${capacity.maxFrontier}`
      : '';
  throw new OptionError(
    'tree',
    given,
    `a budget within the capacity set at load (at most ${capacity.maxChildren} children per node (topK), ` +
      `${capacity.maxFrontier} nodes expanded per depth (frontier), ${capacity.maxNodes} drafted nodes and ` +
      `${maxTreeSize} verified (totalTokens), where this one needs ${growth.maxChildren}, ${growth.maxFrontier}, ` +
      `${growth.maxNodes} and ${growth.maxTreeSize}${impliedFrontier}); load with a larger \`tree\` to raise it`,
  );
}
