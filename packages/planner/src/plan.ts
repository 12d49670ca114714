import {
  type ControllerSeed,
  type DynamicTreeOptions,
  ModelFormatError,
  OptionError,
  requireInteger,
} from '@treespec/core';
import { type BudgetMode, type HybridPolicy, requireBudgetMode } from '@treespec/drafters';
import {
  type BundleDevice,
  checkModelPair,
  MANIFEST_FILE,
  type Manifest,
  type ManifestModel,
  type ModelRole,
} from '@treespec/onnx';
import {
  type Budgets,
  DEVICE_DEFAULT_DRAFTERS,
  MODEL_FREE_BUDGETS,
  modelFreeWithinContext,
  resolveBudgets,
  sampledWithinContext,
  withinContext,
} from './budgets.js';
import { checkedCorpus } from './corpus.js';
import {
  BUNDLE_DRAFTERS,
  type BundleDrafter,
  DRAFTERS,
  type DrafterChoices,
  type DrafterName,
} from './drafter-table.js';
import { exactnessWarning } from './exactness.js';
import { bundleModelDrafter, MODEL_DRAFTERS, type ModelDrafterName } from './model-drafters.js';
import { checkOptionShapes } from './option-shapes.js';
import { requireProviderRuns } from './provider-support.js';
import { selectModels } from './select-models.js';
import type { AdaptiveStop } from './tree-growth.js';
import { unreadOptionWarnings } from './unread-options.js';
import { WARM_UP_TOKENS } from './warm-up.js';

/**
 * How many of the prompt's newest tokens an EAGLE head reads before its first draft of a
 * generation, by default. The head sees the whole context through the target's features, so its
 * own window of the prompt is what it needs: on the tiny family a window of 16 or 64 rows drafts
 * as well as the whole prompt (fixed budget, greedy: tau 3.51–3.52 against 3.52 on the
 * development prompts, 2.65 against 2.63 on 524-token prompts), while the head's catch-up over a
 * 524-token prompt (five calls, about 60 ms) had added a third to the first step, which plain
 * decoding takes in about 210 ms. 64 keeps a margin for heads trained on longer windows
 * (docs/benchmarks.md, session 17).
 */
export const HEAD_PROMPT_ROWS = 64;

/** What a load of a treespec bundle should provide: drafters, budgets, models, context. */
export interface BundleOptions {
  /**
   * Where the loader reports what the user should know about a load that still goes ahead, such
   * as a quantized target whose speculative output may differ from its plain decoding
   * (`Plan.warnings`). Default `console.warn`.
   */
  onWarning?: (message: string) => void;
  /**
   * The default drafter. The bundle's: `eagle2` when it has an EAGLE head, else `eagle3` when it
   * has an EAGLE-3 head, else `none`; replaced by the device's (`hybrid` on `cpu`, `lookup` on
   * `wasm`; see `DEVICE_DEFAULT_DRAFTERS`) where that loads no draft model beyond it, or where
   * `hybridBase` names the model the device's `hybrid` drafts with.
   */
  drafter?: BundleDrafter;
  /** Further drafters to load, selectable per generation (`TextGenerateOptions.drafter`). */
  drafters?: readonly BundleDrafter[];
  /**
   * EAGLE-2 tree budget, over the device's (see {@link resolveBudgets}); it also bounds the EAGLE
   * heads' sampled trees (`draftSampling`).
   */
  tree?: DynamicTreeOptions;
  /** Draft-LM tree budget, over the device's (see {@link resolveBudgets}); it also bounds the draft LM's sampled trees. */
  draftTree?: DynamicTreeOptions;
  /**
   * How the model drafters' budgets are used: `auto` (default) lets a budget controller choose each
   * step's tree within them, a plain step included, from costs measured on this machine; `fixed`
   * drafts the whole budget every step.
   */
  budget?: BudgetMode;
  /** Stored step costs per model drafter (`treespec tune`), to seed the budget controller. */
  controllerSeeds?: Readonly<Partial<Record<ModelDrafterName, ControllerSeed>>>;
  /**
   * Draft LM, EAGLE-2 and EAGLE-3 heads (a head over a reduced draft vocabulary once its manifest
   * records the vocabulary's target ids): draw sampled draft trees for sampling generations
   * (lossless with min(1, p/q)), of their own shape (three draws at the root, a chain of six
   * below the first) within `tree` / `draftTree` when those are given; false: top-k trees at every
   * temperature. Default: top-k trees, sized by value by the budget controller, below temperature
   * 1 and sampled trees from it (see `SAMPLED_TREES_FROM`).
   */
  draftSampling?: boolean;
  /** Early stopping for the model drafters. Default `none`. */
  adaptive?: AdaptiveStop;
  /**
   * The model drafter of `hybrid`. Default `eagle2` when the bundle has an EAGLE head, else
   * `eagle3` when it has an EAGLE-3 head, else `draft-lm`.
   */
  hybridBase?: ModelDrafterName;
  /** How `hybrid` picks each step's tree. Default `throughput`. */
  hybridPolicy?: HybridPolicy;
  /**
   * Documents (text, or token ids) the `suffix` and `hybrid` drafters may also copy from, e.g. a
   * RAG corpus; tokenized only where one of them is loaded (the plan warns where none is). At most
   * `MAX_CORPUS_LENGTH` characters or token ids in all, text without NUL characters.
   */
  corpus?: readonly (string | ArrayLike<number>)[];
  /**
   * Context window to allocate (prompt + generated); at most what every model loaded covers.
   * Default: that, which is the target's unless a head converted with fewer positions is loaded.
   */
  maxContext?: number;
  /**
   * Manifest ids of the models to use, at most one per role, for bundles that hold several
   * (e.g. an fp32 and an int8 draft LM). Roles not named use their first model in the manifest
   * (on `wasm`, their first fp32 model).
   */
  models?: readonly string[];
  /** Most generations that may wait behind the running one. Default 32. */
  maxQueued?: number;
  /**
   * Run every session once at load, with throwaway drafters, greedy and at temperature 1 (their
   * calls differ), so that the first generation's step costs are what later ones pay and the
   * budget controllers learn from those (see {@link WARM_UP_TOKENS}). Default true; `'greedy'`
   * warms greedy generations only, for a host that never samples (a greedy command-line run:
   * about half the warm-up's time); false loads faster and lets the first generation pay for the
   * sessions' first calls.
   */
  warmUp?: boolean | 'greedy';
  /**
   * EAGLE-2 and EAGLE-3 heads: the most of the prompt's newest tokens a head reads before its
   * first draft of a generation; 0 reads the whole prompt. Default {@link HEAD_PROMPT_ROWS}. A
   * draft LM always reads the whole prompt: it has no other view of the context.
   */
  headPromptRows?: number;
}

/** Everything a load decides before any file is read or session opened. */
export interface Plan {
  /** The manifest's path or URL, for messages. */
  readonly manifestFile: string;
  /** The device the budgets are for. */
  readonly device: BundleDevice;
  readonly target: ManifestModel;
  /** The draft models the drafters need, by role, each checked against the target. */
  readonly draftModels: Readonly<Partial<Record<ModelRole, ManifestModel>>>;
  /** Every model to load: the target, then the draft models. */
  readonly models: readonly ManifestModel[];
  /** The drafters to build, the default one first. */
  readonly drafters: readonly DrafterName[];
  /** The drafter generations use unless they name one; null for plain decoding. */
  readonly defaultDrafter: DrafterName | null;
  readonly budgets: Budgets;
  readonly choices: DrafterChoices;
  /** Context window to allocate. */
  readonly maxContext: number;
  /** The tokenizer files, relative to the manifest, `tokenizer.json` first. */
  readonly tokenizerFiles: readonly string[];
  /** The `corpus` option as given. */
  readonly corpus: readonly (string | ArrayLike<number>)[] | undefined;
  /** Most generations that may wait behind the running one (the generator's default when absent). */
  readonly maxQueued: number | undefined;
  /** How the model drafters use their budgets. */
  readonly budgetMode: BudgetMode;
  /** Stored step costs that seed the model drafters' controllers. */
  readonly controllerSeeds: Readonly<Partial<Record<ModelDrafterName, ControllerSeed>>>;
  /**
   * Whether the model drafters that can (draft LM, EAGLE heads) draw sampled trees for sampling
   * generations, as asked; undefined: by the generation's temperature (`sampledTreesFrom`).
   */
  readonly draftSampling: boolean | undefined;
  /**
   * The bounds of the sampled trees, by budget: the caller's own tree options (which otherwise
   * keep their own shape), and the context window (`sampledWithinContext`).
   */
  readonly sampledBounds: Partial<Budgets>;
  /** What the host should tell the user about this load (see {@link exactnessWarning}); printed, never thrown. */
  readonly warnings: readonly string[];
  /** The budgets `fixed` would draft: under `auto`, the trees the controllers start from. */
  readonly startBudgets: Budgets;
  /** Tokens each warm-up generation decodes at load; 0 for none. */
  readonly warmUpTokens: number;
  /** Whether the warm-up samples too (at temperature 1), beside its greedy generations. */
  readonly warmUpSampling: boolean;
  /** The most prompt rows an EAGLE head reads before a generation's first draft; 0 for all. */
  readonly headPromptRows: number;
}

/**
 * Decides a load: which models of the bundle to use (`models`, else the first of each role; on
 * `wasm` the first fp32 one), which drafters to build and what they need, the tree budgets for
 * `device` (see {@link resolveBudgets}) and the context to allocate. Nothing is read or opened.
 *
 * @throws OptionError for an unknown drafter or model id, or an option of the wrong shape
 *   ({@link checkOptionShapes}).
 * @throws ModelFormatError (naming `manifestFile`) when the bundle lacks a model a drafter needs,
 *   or `ModelMismatchError` when a draft model does not fit the target.
 * @throws ProviderSupportError when `device` cannot run a model to load as converted (its attention
 *   layout or activation dtype; see `PROVIDER_SUPPORT`), naming the fallback.
 */
export function plan(
  manifest: Manifest,
  options: BundleOptions = {},
  device: BundleDevice = 'cpu',
  manifestFile: string = MANIFEST_FILE,
): Plan {
  checkOptionShapes(options);
  const selected = selectModels(manifest, device, options.models ?? [], manifestFile);
  const byRole = (role: ModelRole) => selected.models.find((m) => m.role === role);
  const target = byRole('target');
  if (!target) throw new ModelFormatError('lists no model with role "target"', { file: manifestFile });
  const budgetMode = requireBudgetMode(options.budget ?? 'auto');
  const choices: DrafterChoices = {
    hybridBase: options.hybridBase ?? bundleModelDrafter(selected.models) ?? 'draft-lm',
    hybridPolicy: options.hybridPolicy,
    adaptive: options.adaptive ?? 'none',
    modelFree: MODEL_FREE_BUDGETS[device],
    modelFreePriced: budgetMode === 'auto',
  };
  // The bundle's own default drafts with a head, never with a draft LM alone.
  const heads = selected.models.filter((m) => m.role !== MODEL_DRAFTERS['draft-lm'].role);
  const bundleDefault: BundleDrafter = bundleModelDrafter(heads) ?? 'none';
  const needs = (name: BundleDrafter) => (name === 'none' ? [] : DRAFTERS[name].needs(choices));
  // A device's default is taken where it loads no draft model beyond the bundle's default's, or
  // where the load names the model it drafts with (the hybrid's base).
  const deviceDefault = DEVICE_DEFAULT_DRAFTERS[device];
  const byDefault =
    deviceDefault &&
    ((deviceDefault === 'hybrid' && options.hybridBase !== undefined) ||
      needs(deviceDefault).every((role) => needs(bundleDefault).includes(role)))
      ? deviceDefault
      : bundleDefault;
  const wanted = new Set<BundleDrafter>([options.drafter ?? byDefault, ...(options.drafters ?? [])]);
  for (const name of wanted) {
    if (!BUNDLE_DRAFTERS.includes(name)) {
      const option = name === (options.drafter ?? byDefault) ? 'drafter' : 'drafters';
      throw new OptionError(option, name, `one of ${BUNDLE_DRAFTERS.join(', ')}`);
    }
  }
  const drafters = [...wanted].filter((name): name is DrafterName => name !== 'none');
  const draftModels: Partial<Record<ModelRole, ManifestModel>> = {};
  for (const name of drafters) {
    for (const role of DRAFTERS[name].needs(choices)) {
      const model = byRole(role);
      if (!model) {
        throw new ModelFormatError(`has no model with role "${role}", which the ${name} drafter needs`, {
          file: manifestFile,
        });
      }
      checkModelPair(target, model);
      draftModels[role] = model;
    }
  }
  if (options.draftSampling === true) requireSampleable(draftModels, manifestFile);
  const models = [target, ...Object.values(draftModels)];
  for (const model of models) requireProviderRuns(manifest, model, device, manifestFile);
  const [first] = wanted;
  // Bundles converted before heads took their target's positions may hold a head that covers
  // fewer: the context is the least that any model loaded covers.
  const covered = Math.min(...models.map((m) => m.dims.maxContext));
  const maxContext = Math.min(options.maxContext ?? covered, covered);
  const warmUp = warmUpOption(options.warmUp);
  const given = {
    ...(options.tree ? { tree: options.tree } : {}),
    ...(options.draftTree ? { draftTree: options.draftTree } : {}),
  };
  return {
    manifestFile,
    device,
    target,
    draftModels,
    models,
    drafters,
    defaultDrafter: first === 'none' ? null : (first as DrafterName),
    budgets: withinContext(resolveBudgets(device, manifest.tuning, given, budgetMode), maxContext),
    startBudgets: withinContext(resolveBudgets(device, manifest.tuning, given, 'fixed'), maxContext),
    choices: { ...choices, modelFree: modelFreeWithinContext(choices.modelFree, maxContext) },
    maxContext,
    tokenizerFiles: target.tokenizer.files,
    corpus: checkedCorpus(options.corpus),
    maxQueued: options.maxQueued,
    warmUpTokens: warmUp === false ? 0 : WARM_UP_TOKENS,
    warmUpSampling: warmUp === true,
    headPromptRows: requireInteger('headPromptRows', options.headPromptRows ?? HEAD_PROMPT_ROWS, 0),
    budgetMode,
    controllerSeeds: options.controllerSeeds ?? {},
    draftSampling: options.draftSampling,
    sampledBounds: {
      tree: sampledWithinContext(given.tree, maxContext),
      draftTree: sampledWithinContext(given.draftTree, maxContext),
    },
    warnings: [
      exactnessWarning(target),
      options.maxContext !== undefined && options.maxContext > covered
        ? `treespec: option "maxContext" (${options.maxContext}) is more than the ${covered} positions the models loaded cover; the context window is ${covered}`
        : null,
      ...unreadOptionWarnings(options, drafters, choices),
    ].filter((w): w is string => w !== null),
  };
}

/**
 * Throws when sampled draft trees are asked for by name and a head to load cannot draw them: a
 * reduced draft vocabulary (FR-Spec, EAGLE-3) converted before the manifest recorded its target
 * ids. Left to its default, such a head quietly keeps top-k trees.
 */
function requireSampleable(
  draftModels: Partial<Record<ModelRole, ManifestModel>>,
  manifestFile: string,
): void {
  for (const entry of Object.values(MODEL_DRAFTERS)) {
    const model = draftModels[entry.role];
    if (!model || !('canSample' in entry) || entry.canSample(model)) continue;
    throw new OptionError(
      'draftSampling',
      true,
      `unset or false with the "${model.id}" model of ${manifestFile}: its draft vocabulary's target ids ` +
        'are not in the manifest (converted before they were recorded), so no sampled draft tree can be drawn ' +
        'from it; convert it again to sample draft trees',
    );
  }
}

/** The `warmUp` option checked: true (the default), `'greedy'` or false. */
function warmUpOption(given: BundleOptions['warmUp']): boolean | 'greedy' {
  if (given === undefined) return true;
  if (given === true || given === false || given === 'greedy') return given;
  throw new OptionError('warmUp', given, "true, false or 'greedy'");
}
