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
  /** With `sampling`: the temperature from which sampling generations draft with it (default 0, all). */
  samplingFrom?: number;
  /** Under `auto`, the tree to start from: one known to be good for the model family. */
  start?: { depth: number; nodes: number };
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
  const { budget = 'auto', seed, sampling, samplingFrom, start } = control;
  return new BudgetController(
    { drafter, growth: drafter.growth },
    {
      fixed: budget === 'fixed',
      ...(seed ? { seed } : {}),
      ...(start ? { start } : {}),
      ...(sampling ? { sampling: { drafter: sampling, growth: sampling.growth } } : {}),
      ...(samplingFrom !== undefined ? { samplingFrom } : {}),
    },
  );
}

/**
 * The growth of sampled draft trees ({@link SAMPLED_TREE_PATHS}), within a caller's tree budget
 * when given ({@link StaticTreeShape.within}: EAGLE's `depth`, `topK`, `frontier` and
 * `totalTokens`, as they bound top-k trees).
 */
export function sampledTreeGrowth(within?: DynamicTreeOptions): StaticTreeGrowth {
  const shape = new StaticTreeShape(SAMPLED_TREE_PATHS);
  return new StaticTreeGrowth(within ? shape.within(within) : shape);
}

/** Checks a budget mode given by a caller. */
export function requireBudgetMode(budget: unknown): BudgetMode {
  if (budget !== 'auto' && budget !== 'fixed') throw new OptionError('budget', budget, '"auto" or "fixed"');
  return budget;
}
