import {
  type ControllerSeed,
  type DynamicTreeOptions,
  OptionError,
  StaticTreeGrowth,
  StaticTreeShape,
} from '@treespec/core';
import { BudgetController } from './budget-controller.js';
import type { ModelTreeDrafter } from './model-tree-drafter.js';

/**
 * How a model drafter's tree budget is set: `auto` lets a {@link BudgetController} choose each
 * step's tree within the budget (which is then a capacity); `fixed` drafts the whole budget every
 * step.
 */
export type BudgetMode = 'auto' | 'fixed';

/**
 * The capacity a controlled EAGLE-2 drafter chooses its trees within, unless one is given: wide
 * enough at the first depths for uncertain text and deep enough for predictable text. Buffers of
 * the head and the target are sized for it; the controller only drafts what pays.
 */
export const CONTROLLED_TREE: DynamicTreeOptions = { topK: 4, frontier: 2, depth: 7, totalTokens: 32 };

/** The capacity of a controlled draft-LM drafter, unless one is given. */
export const CONTROLLED_DRAFT_LM_TREE: DynamicTreeOptions = {
  topK: 4,
  frontier: 1,
  depth: 6,
  totalTokens: 16,
};

/**
 * The shape of sampled draft trees (child ranks from the root): three draws at the root, a deep
 * chain below the first and short ones below the others. A controller caps it breadth first.
 */
export const SAMPLED_TREE_PATHS: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0],
  [0, 1, 0],
  [1, 0, 0],
  [2, 0],
];

/** Options of {@link controlModelDrafter}. */
export interface ModelDrafterControl {
  /** Default `auto`. */
  budget?: BudgetMode;
  /** Stored costs of this machine and provider (`treespec tune`). */
  seed?: ControllerSeed;
  /** A drafter over the same model for sampling generations, e.g. one that draws sampled trees. */
  sampling?: ModelTreeDrafter;
}

/**
 * Puts a model drafter (EAGLE-2, the draft LM, later EAGLE-3) under a {@link BudgetController}:
 * under `auto` it picks each step's tree, a plain step included; under `fixed` it drafts the whole
 * budget and only measures. Either way sampling generations use `sampling` when given.
 */
export function controlModelDrafter(
  drafter: ModelTreeDrafter,
  control: ModelDrafterControl = {},
): BudgetController {
  const { budget = 'auto', seed, sampling } = control;
  return new BudgetController(
    { drafter, growth: drafter.growth },
    {
      fixed: budget === 'fixed',
      ...(seed ? { seed } : {}),
      ...(sampling ? { sampling: { drafter: sampling, growth: sampling.growth } } : {}),
    },
  );
}

/** The budget options of a model bundle that {@link controlModelDrafters} reads. */
export interface BundleBudgetOptions {
  budget?: BudgetMode;
  controllerSeeds?: Partial<Record<'eagle2' | 'draft-lm', ControllerSeed>>;
  draftSampling?: boolean;
}

/** What a model bundle's loader asks of the budget control, drafter by drafter. */
export interface ModelDrafterControls {
  /** The budget to fill in what the user left out: the controlled capacity under `auto`, else `fixed`. */
  defaults(name: 'eagle2' | 'draft-lm', fixed: DynamicTreeOptions): DynamicTreeOptions;
  /** The growth of sampled draft trees for the draft LM when `draftSampling` asks for them, else null. */
  sampledGrowth(): StaticTreeGrowth | null;
  /** The drafter the bundle serves: the model drafter under its controller. */
  wrap(name: 'eagle2' | 'draft-lm', drafter: ModelTreeDrafter, sampling?: ModelTreeDrafter): BudgetController;
}

/**
 * The budget control of a model bundle's model drafters, from the bundle's options: one place
 * for the loader to get budgets, sampled trees and controllers from. Controlled capacities are
 * kept within a context window of `maxContext` tokens.
 */
export function controlModelDrafters(options: BundleBudgetOptions, maxContext: number): ModelDrafterControls {
  const budget = options.budget ?? 'auto';
  if (budget !== 'auto' && budget !== 'fixed') throw new OptionError('budget', budget, '"auto" or "fixed"');
  const capacity = (tree: DynamicTreeOptions): DynamicTreeOptions => ({
    ...tree,
    totalTokens: Math.max(1, Math.min(tree.totalTokens ?? 1, maxContext - 1)),
  });
  return {
    defaults: (name, fixed) =>
      budget === 'fixed' ? fixed : capacity(name === 'eagle2' ? CONTROLLED_TREE : CONTROLLED_DRAFT_LM_TREE),
    sampledGrowth: () =>
      options.draftSampling ? new StaticTreeGrowth(new StaticTreeShape(SAMPLED_TREE_PATHS)) : null,
    wrap: (name, drafter, sampling) => {
      const seed = options.controllerSeeds?.[name];
      return controlModelDrafter(drafter, {
        budget,
        ...(seed ? { seed } : {}),
        ...(sampling ? { sampling } : {}),
      });
    },
  };
}
