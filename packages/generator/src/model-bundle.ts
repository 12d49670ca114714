import {
  type ControllerSeed,
  type Drafter,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  ModelFormatError,
  OptionError,
  type TreeGrowth,
} from '@treespec/core';
import {
  type BudgetMode,
  controlModelDrafters,
  DraftLmDrafter,
  EagleDrafter,
  EntropyStopGrowth,
  HybridDrafter,
  type HybridPolicy,
  LookupDrafter,
  SuffixDrafter,
} from '@treespec/drafters';
import {
  causalLmLayout,
  checkModelPair,
  eagleHeadLayout,
  type Manifest,
  type ManifestModel,
  OnnxCausalLm,
  OnnxDraftLm,
  OnnxEagleHead,
} from '@treespec/onnx';
import type { HfTokenizer } from '@treespec/tokenizers';
import type { InferenceSession } from 'onnxruntime-common';
import { preferModels } from './prefer-models.js';
import { TextGenerator } from './text-generator.js';

/** The drafters a model bundle can provide; `none` is plain decoding. */
export const BUNDLE_DRAFTERS = ['eagle2', 'draft-lm', 'lookup', 'suffix', 'hybrid', 'none'] as const;
export type BundleDrafter = (typeof BUNDLE_DRAFTERS)[number];

/** When model drafters stop growing a tree early: never, EAGLE-2's depth rule, AdaEDL's entropy rule, or both. */
export type AdaptiveStop = 'none' | 'depth' | 'entropy' | 'both';

/** Options of {@link createTextGenerator}. */
export interface BundleOptions {
  /** The default drafter. Default `eagle2` when the bundle has an EAGLE head, else `none`. */
  drafter?: BundleDrafter;
  /** Further drafters to load, selectable per generation (`TextGenerateOptions.drafter`). */
  drafters?: readonly BundleDrafter[];
  /** EAGLE-2 tree budget. Defaults: see {@link DEFAULT_TREE}. */
  tree?: DynamicTreeOptions;
  /** Draft-LM tree budget. Defaults: see {@link DEFAULT_DRAFT_LM_TREE}. */
  draftTree?: DynamicTreeOptions;
  /**
   * How the model drafters' budgets (`tree`, `draftTree`) are used: `auto` (default) lets a budget
   * controller choose each step's tree within them, a plain step included, from costs measured on
   * this machine; `fixed` drafts the whole budget every step.
   */
  budget?: BudgetMode;
  /** Stored step costs per model drafter (`treespec tune`), to seed the budget controller. */
  controllerSeeds?: Partial<Record<'eagle2' | 'draft-lm', ControllerSeed>>;
  /** Draft LM: draw sampled draft trees for sampling generations (lossless with min(1, p/q)). */
  draftSampling?: boolean;
  /** Early stopping for the model drafters. Default `none`. */
  adaptive?: AdaptiveStop;
  /** The model drafter of `hybrid`. Default `eagle2` when the bundle has a head, else `draft-lm`. */
  hybridBase?: 'eagle2' | 'draft-lm';
  /** How `hybrid` picks each step's tree. Default `throughput`. */
  hybridPolicy?: HybridPolicy;
  /** Documents (text, or token ids) the `suffix` drafter may also copy from, e.g. a RAG corpus. */
  corpus?: readonly (string | ArrayLike<number>)[];
  /** Context window to allocate (prompt + generated); at most the model's. Default: the model's. */
  maxContext?: number;
  /**
   * Manifest ids of the models to use, at most one per role, for bundles that hold several
   * (e.g. an fp32 and an int8 draft LM). Roles not named use their first model in the manifest.
   */
  models?: readonly string[];
}

/**
 * The EAGLE-2 budget used on CPUs unless one is given: expand the best node of each depth into
 * its top 3, five depths, keep 10 nodes. Chosen with `treespec tune` and `treespec bench` on the
 * 2-core reference machine (docs/benchmarks.md), where verifying a node costs about 0.1 of a
 * token and each head call about 0.2: the reference GPU budget ({@link GPU_TREE}) drafts more
 * than a CPU can verify profitably.
 */
export const DEFAULT_TREE: DynamicTreeOptions = { topK: 3, frontier: 1, depth: 5, totalTokens: 10 };

/**
 * The EAGLE-2 paper's budget (top-8 frontier, depth 5 plus the root, 32 nodes kept): for GPUs,
 * where a tree of 32 nodes verifies in about the time of one token. The Node and browser loaders
 * use it on the `webgpu` and `cuda` providers unless a tree is given.
 */
export const GPU_TREE: DynamicTreeOptions = { topK: 8, depth: 5, totalTokens: 32 };

/** The draft-LM budget used unless one is given: a chain with side branches (docs/benchmarks.md). */
export const DEFAULT_DRAFT_LM_TREE: DynamicTreeOptions = { topK: 4, frontier: 1, depth: 3, totalTokens: 5 };

/**
 * The target verifies trees of at least this many nodes, so that drafters composed later with the
 * same target (e.g. a `TextGenerator` over `generator.target`) fit without reloading; the cost is
 * preallocated buffers of this many rows.
 */
const MIN_VERIFIABLE_TREE = 64;

/** Thresholds of the early-stopping rules when `adaptive` asks for them. */
const DEPTH_RULE_PROBABILITY = 0.05;

/** Where a model bundle's parts come from: the runtime-specific side (Node files, browser fetches). */
export interface BundleSource {
  manifest: Manifest;
  /** Path or URL of the manifest, for messages. */
  manifestFile: string;
  tokenizer: HfTokenizer;
  /** Opens a session for one model of the manifest. */
  openSession(model: ManifestModel): Promise<InferenceSession>;
}

/**
 * A budget with the defaults filled in for what `given` leaves out. A `topK` given without a
 * `frontier` also sets the frontier, as it does for {@link DynamicTreeGrowth}, rather than keeping
 * the default's (so `{ topK: 8, depth: 5, totalTokens: 32 }` is the EAGLE-2 budget whatever the
 * defaults).
 */
export function treeBudget(defaults: DynamicTreeOptions, given: DynamicTreeOptions = {}): DynamicTreeOptions {
  const frontier = given.frontier ?? (given.topK !== undefined ? given.topK : defaults.frontier);
  return { ...defaults, ...given, ...(frontier !== undefined ? { frontier } : {}) };
}

function growthFor(budget: DynamicTreeOptions, adaptive: AdaptiveStop): TreeGrowth {
  const depthRule = adaptive === 'depth' || adaptive === 'both';
  const growth = new DynamicTreeGrowth(
    depthRule ? { minFrontierProbability: DEPTH_RULE_PROBABILITY, ...budget } : budget,
  );
  return adaptive === 'entropy' || adaptive === 'both' ? new EntropyStopGrowth(growth) : growth;
}

/**
 * Builds a {@link TextGenerator} from a treespec model bundle: the target's runner and the
 * requested drafters, after checking that each draft model fits the target. Model drafters are
 * created once and shared (e.g. the EAGLE drafter serves both `eagle2` and `hybrid`).
 */
export async function createTextGenerator(
  source: BundleSource,
  options: BundleOptions = {},
): Promise<TextGenerator> {
  const { manifestFile } = source;
  const manifest = preferModels(source.manifest, options.models ?? [], manifestFile);
  const byRole = (role: ManifestModel['role']) => manifest.models.find((m) => m.role === role);
  const targetModel = byRole('target');
  if (!targetModel) throw new ModelFormatError('lists no model with role "target"', { file: manifestFile });
  const headModel = byRole('eagle-head');
  const draftModel = byRole('draft');
  const defaultDrafter = options.drafter ?? (headModel ? 'eagle2' : 'none');
  const wanted = new Set<BundleDrafter>([defaultDrafter, ...(options.drafters ?? [])]);
  for (const name of wanted) {
    if (!BUNDLE_DRAFTERS.includes(name))
      throw new OptionError('drafter', name, `one of ${BUNDLE_DRAFTERS.join(', ')}`);
  }
  const hybridBase = options.hybridBase ?? (headModel ? 'eagle2' : 'draft-lm');
  const adaptive = options.adaptive ?? 'none';
  const maxContext = Math.min(options.maxContext ?? targetModel.dims.maxContext, targetModel.dims.maxContext);

  const need = (model: ManifestModel | undefined, role: string, drafter: string): ManifestModel => {
    if (!model)
      throw new ModelFormatError(`has no model with role "${role}", which the ${drafter} drafter needs`, {
        file: manifestFile,
      });
    checkModelPair(targetModel, model);
    return model;
  };
  /** Buffers of a draft model's runner, sized for the trees its drafters grow. */
  const runnerOptions = (...growths: TreeGrowth[]) => ({
    maxContext,
    maxDraftBatch: Math.max(...growths.map((g) => g.maxFrontier)),
    maxK: Math.max(...growths.map((g) => g.maxChildren)),
    maxDraftRows: Math.max(...growths.map((g) => g.maxNodes)),
  });
  const control = controlModelDrafters(options, maxContext);
  let eagle: Drafter | null = null;
  const eagleDrafter = async (): Promise<Drafter> => {
    if (eagle) return eagle;
    const model = need(headModel, 'eagle-head', 'eagle2');
    const growth = growthFor(treeBudget(control.defaults('eagle2', DEFAULT_TREE), options.tree), adaptive);
    const head = new OnnxEagleHead(
      await source.openSession(model),
      eagleHeadLayout(model),
      runnerOptions(growth),
    );
    eagle = control.wrap('eagle2', new EagleDrafter(head, { growth }));
    return eagle;
  };
  let draftLm: Drafter | null = null;
  const draftLmDrafter = async (): Promise<Drafter> => {
    if (draftLm) return draftLm;
    const model = need(draftModel, 'draft', 'draft-lm');
    const growth = growthFor(
      treeBudget(control.defaults('draft-lm', DEFAULT_DRAFT_LM_TREE), options.draftTree),
      adaptive,
    );
    const sampled = control.sampledGrowth();
    const lm = new OnnxDraftLm(
      await source.openSession(model),
      causalLmLayout(model),
      runnerOptions(growth, ...(sampled ? [sampled] : [])),
    );
    const sampling = sampled
      ? new DraftLmDrafter(lm, { growth: sampled, sample: { temperature: 1 } })
      : undefined;
    draftLm = control.wrap('draft-lm', new DraftLmDrafter(lm, { growth }), sampling);
    return draftLm;
  };

  const corpus = options.corpus?.map((doc) =>
    typeof doc === 'string' ? source.tokenizer.encode(doc, { addSpecialTokens: false }) : doc,
  );
  const suffixOptions = corpus ? { corpus } : {};
  const drafters: Record<string, Drafter> = {};
  for (const name of wanted) {
    if (name === 'eagle2') drafters[name] = await eagleDrafter();
    else if (name === 'draft-lm') drafters[name] = await draftLmDrafter();
    else if (name === 'lookup') drafters[name] = new LookupDrafter();
    else if (name === 'suffix') drafters[name] = new SuffixDrafter(suffixOptions);
    else if (name === 'hybrid') {
      const base = hybridBase === 'eagle2' ? await eagleDrafter() : await draftLmDrafter();
      const modelFree = [new SuffixDrafter(suffixOptions), new LookupDrafter()];
      drafters[name] = new HybridDrafter(base, modelFree, {
        ...(options.hybridPolicy ? { policy: options.hybridPolicy } : {}),
      });
    }
  }
  const treeSizes = Object.values(drafters).map((d) => d.maxTreeSize);
  const target = new OnnxCausalLm(await source.openSession(targetModel), causalLmLayout(targetModel), {
    maxContext,
    maxTreeSize: Math.min(Math.max(MIN_VERIFIABLE_TREE, ...treeSizes), maxContext),
  });
  return new TextGenerator({
    tokenizer: source.tokenizer,
    target,
    drafters,
    defaultDrafter: defaultDrafter === 'none' ? null : defaultDrafter,
  });
}
