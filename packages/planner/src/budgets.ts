import { DYNAMIC_TREE_DEFAULTS, type DynamicTreeOptions } from '@treespec/core';
import { type BudgetMode, MATCHING_TREE_TOKENS, sampledTreeGrowth } from '@treespec/drafters';
import type { BundleDevice, DeviceTuning } from '@treespec/onnx';
import type { BundleDrafter } from './drafter-table.js';

/** The tree budgets of one load: the EAGLE-2 drafter's (`tree`) and the draft LM's (`draftTree`). */
export interface Budgets {
  readonly tree: DynamicTreeOptions;
  readonly draftTree: DynamicTreeOptions;
}

/**
 * The draft LM's budget on every device: a chain with side branches, the best of `treespec tune`
 * on the 2-core reference machine (docs/benchmarks.md).
 */
const DRAFT_LM_TREE: DynamicTreeOptions = { topK: 4, frontier: 1, depth: 2, totalTokens: 6 };

/**
 * What each device changes in core's budget ({@link DYNAMIC_TREE_DEFAULTS}, the EAGLE-2 paper's
 * GPU budget, which `webgpu` and `cuda` keep). Budgets follow EAGLE's conventions (`depth` counts
 * the levels after the root's children, `totalTokens` counts the root):
 * - `cpu`: expand the best node of each depth into its top 3, five levels of draft nodes, keep 10
 *   of them beside the root. Chosen
 *   with `treespec tune` and `treespec bench` on the 2-core reference machine
 *   (docs/benchmarks.md), where verifying a node costs about 0.1 of a token and each head call
 *   about 0.2: the GPU budget drafts more than a CPU can verify profitably.
 * - `wasm`: a root with 2 candidates, each with 1 child (at most 4 drafted nodes, all kept). On WASM the
 *   target's cost grows with every verified row (about 1 ms per row for the tiny model against
 *   about 4 ms for one token), so wide trees lose: in Chromium on 2 cores (10 development prompts,
 *   64 tokens) this budget gave tau 2.24 and 137 tokens/s, the GPU budget tau 3.20 and 50 tokens/s.
 */
export const DEVICE_PRESETS: Readonly<Record<BundleDevice, DeviceTuning>> = {
  cpu: { tree: { topK: 3, frontier: 1, depth: 4, totalTokens: 11 }, draftTree: DRAFT_LM_TREE },
  wasm: { tree: { topK: 2, depth: 1, totalTokens: 5 }, draftTree: DRAFT_LM_TREE },
  webgpu: { draftTree: DRAFT_LM_TREE },
  cuda: { draftTree: DRAFT_LM_TREE },
};

/**
 * The capacities a budget controller chooses each step's tree within (`budget: 'auto'`, the
 * default) on the CPU-bound devices. Buffers of the draft models and the target are sized for
 * them; the controller drafts only what pays on the machine at hand (a plain step included),
 * starting from the device's fixed budget ({@link startTree}). On `cpu` the EAGLE-2 capacity
 * grows the fixed budget's shape (top-3, frontier 1) deeper, so that a cap of 5 depths and 10
 * nodes is that budget's tree: under a top-4, frontier-2 capacity the same cap kept siblings at
 * the first depths and lost the deep chain (on the clocked toy, 23–29 % slower than the fixed
 * budget on a first short generation). On `webgpu` and `cuda` the controller chooses within the
 * device's budget.
 */
export const CONTROLLED_CAPACITIES: Readonly<Partial<Record<BundleDevice, DeviceTuning>>> = {
  cpu: {
    tree: { topK: 3, frontier: 1, depth: 7, totalTokens: 25 },
    draftTree: { topK: 4, frontier: 1, depth: 5, totalTokens: 17 },
  },
  // WASM verifies each extra row for about 0.3 of a token (1 thread; a native CPU about 0.05),
  // so no tree beyond a few nodes pays, and pricing a large one costs a short generation more
  // than it learns: in Chromium (10 development prompts, 64 tokens) this capacity gave 1.16–1.17×
  // plain against 0.82–0.97× for the CPU's (docs/benchmarks.md "In the browser").
  wasm: {
    tree: { topK: 2, frontier: 2, depth: 2, totalTokens: 4 },
    draftTree: { topK: 4, frontier: 1, depth: 5, totalTokens: 17 },
  },
};

/**
 * How far the model-free drafters (`lookup`, `suffix`, and the hybrid's model-free parts) draft:
 * the longest continuation, the most draft tokens, and how many earlier occurrences are merged.
 */
export interface ModelFreeBudget {
  readonly maxDepth?: number;
  readonly maxTokens?: number;
  readonly maxCandidates?: number;
}

/**
 * What each device changes in the model-free drafters' trees (their own defaults elsewhere: up to
 * 16 tokens, 8 deep, 4 occurrences merged). On `wasm` a chain of up to 4 tokens, what followed one
 * earlier occurrence of the longest match (for `lookup` the most recent): every verified row beyond
 * the first costs WASM about 0.3–0.5 of a plain token (a native CPU about 0.05), so a 7-node tree
 * (tau 1.9) ran at 0.62–0.68× plain decoding in Chromium where a one-token chain (tau 1.37) ran at
 * 1.11–1.54× (docs/benchmarks.md "In the browser"). Priced (the `auto` budget,
 * `PricedModelFreeDrafter`), the chain is cut each step to the tokens expected to pay at the
 * page's measured step times: 1.00–1.24× (median 1.15×, tau 1.39–1.58) against 1.01–1.12× (median
 * 1.03×, tau 1.37) for the unpriced one-token chain (nine runs against seven, alternating;
 * docs/benchmarks.md "Model-free drafters on their own, priced"). A step without a match verifies
 * the root alone: a plain step, with nothing drafted.
 */
export const MODEL_FREE_BUDGETS: Readonly<Partial<Record<BundleDevice, ModelFreeBudget>>> = {
  wasm: { maxDepth: 4, maxTokens: 4, maxCandidates: 1 },
};

/**
 * The drafter a device runs when the caller names none, where the bundle's own default (its EAGLE
 * head's drafter) does not pay there, or pays less. A device's default is taken only where it loads
 * no draft model beyond the bundle's default's (so `hybrid` on `cpu` builds on the bundle's EAGLE-2
 * head, never on a draft LM the bundle's default would not load).
 * - `cpu`: `hybrid`, the bundle's EAGLE-2 head with the model-free suffix and lookup drafters
 *   beside it, each step taking whichever tree is expected to commit the most per millisecond; a
 *   copied continuation costs no model call. On the 2-core reference machine (128 tokens, one
 *   process; docs/benchmarks.md "The CPU's default drafter") it ran the 39 development prompts at
 *   2.00× plain decoding greedy against EAGLE-2's 1.16×, and 12 prompts written after the models
 *   were trained (docs/prompts-fresh.jsonl) at 1.68× against 1.01×; at temperature 1, 0.98× and
 *   0.95× against 0.93× and 0.90×.
 * - `wasm`: `lookup` (prompt lookup, no model call; with {@link MODEL_FREE_BUDGETS}'s chains of
 *   up to 4 tokens, priced): an EAGLE-2 step costs WASM a head call (about 0.15–0.33 of a plain
 *   token) and a row per drafted node, and each generation its head's catch-up over the prompt,
 *   so even under the budget controller EAGLE-2 ran the page at 0.78–1.04× plain decoding (median
 *   0.88×; 10 development prompts, 64 tokens; bounded at 1.14× by its one-token chain), while
 *   `lookup` with one-token chains ran at 1.11–1.54× (median 1.22×) in the same hours.
 *
 * Every other drafter, EAGLE-2 alone included, stays available by name.
 */
export const DEVICE_DEFAULT_DRAFTERS: Readonly<Partial<Record<BundleDevice, BundleDrafter>>> = {
  cpu: 'hybrid',
  wasm: 'lookup',
};

/**
 * `given` over `base`. A `topK` given without a `frontier` also sets the frontier, as it does for
 * core's `DynamicTreeGrowth`, rather than keeping the base's (so `{ topK: 8, depth: 4,
 * totalTokens: 33 }` is core's default budget whatever the base).
 */
export function mergeTree(base: DynamicTreeOptions, given: DynamicTreeOptions = {}): DynamicTreeOptions {
  const frontier = given.frontier ?? (given.topK !== undefined ? given.topK : base.frontier);
  return { ...base, ...given, ...(frontier !== undefined ? { frontier } : {}) };
}

/**
 * The budgets of a load, merged once, each layer over the one before: core's defaults → the
 * device's preset ({@link DEVICE_PRESETS}; under `auto`, the controlled capacity
 * {@link CONTROLLED_CAPACITIES} over it) → the bundle's own `tuning` section for the device
 * (`treespec.json`, written by `treespec tune --write`) → the caller's options. Under `auto` the
 * result is the capacity a budget controller chooses within; under `fixed`, every step's tree.
 */
export function resolveBudgets(
  device: BundleDevice,
  tuning: Readonly<Partial<Record<BundleDevice, DeviceTuning>>> | undefined,
  given: DeviceTuning = {},
  mode: BudgetMode = 'auto',
): Budgets {
  const controlled = mode === 'auto' ? CONTROLLED_CAPACITIES[device] : undefined;
  const layers = [DEVICE_PRESETS[device], controlled, tuning?.[device], given];
  const merge = (pick: (layer: DeviceTuning) => DynamicTreeOptions | undefined): DynamicTreeOptions =>
    layers.reduce<DynamicTreeOptions>(
      (budget, layer) => mergeTree(budget, layer ? pick(layer) : undefined),
      mergeTree({}, DYNAMIC_TREE_DEFAULTS),
    );
  return { tree: merge((l) => l.tree), draftTree: merge((l) => l.draftTree) };
}

/**
 * The tree a budget controller starts from under `auto`: the one `fixed` would draft (its levels
 * of draft nodes and kept nodes, in the controller's terms), which `treespec tune` chose for the
 * device. It is drafted until costs are measured, and again to test whether speculation pays
 * after a run of plain steps.
 */
export function startTree(tree: DynamicTreeOptions): { depth: number; nodes: number } {
  return {
    depth: 1 + (tree.depth ?? DYNAMIC_TREE_DEFAULTS.depth),
    nodes: (tree.totalTokens ?? DYNAMIC_TREE_DEFAULTS.totalTokens) - 1,
  };
}

/**
 * `budget` (undefined: the model-free drafters' own trees, {@link MATCHING_TREE_TOKENS}) with trees
 * of at most `maxContext` nodes, the root included.
 */
export function modelFreeWithinContext(
  budget: ModelFreeBudget | undefined,
  maxContext: number,
): ModelFreeBudget | undefined {
  const tokens = Math.max(1, maxContext - 1);
  if ((budget?.maxTokens ?? MATCHING_TREE_TOKENS) <= tokens) return budget;
  // A chain is no deeper than its tokens, so only a depth given above them needs cutting.
  return {
    ...budget,
    maxTokens: tokens,
    ...(budget?.maxDepth !== undefined ? { maxDepth: Math.min(budget.maxDepth, tokens) } : {}),
  };
}

/**
 * A caller's bound of the sampled draft trees (undefined: none), lowered to trees of at most
 * `maxContext` nodes where the sampled trees would outgrow the context window.
 */
export function sampledWithinContext(
  given: DynamicTreeOptions | undefined,
  maxContext: number,
): DynamicTreeOptions | undefined {
  if (sampledTreeGrowth(given).maxTreeSize <= maxContext) return given;
  return { ...given, totalTokens: Math.max(2, Math.min(given?.totalTokens ?? maxContext, maxContext)) };
}

/** `budgets` with trees of at most `maxContext` nodes: a small context window bounds what one step can verify. */
export function withinContext(budgets: Budgets, maxContext: number): Budgets {
  const clamp = (tree: DynamicTreeOptions): DynamicTreeOptions =>
    tree.totalTokens !== undefined && tree.totalTokens > maxContext
      ? { ...tree, totalTokens: Math.max(2, maxContext) }
      : tree;
  return { tree: clamp(budgets.tree), draftTree: clamp(budgets.draftTree) };
}
