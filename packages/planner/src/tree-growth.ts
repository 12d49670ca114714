import { DynamicTreeGrowth, type DynamicTreeOptions, OptionError, type TreeGrowth } from '@treespec/core';
import { EntropyStopGrowth } from '@treespec/drafters';

/** The early stops of model drafters' trees: never, EAGLE-2's depth rule, AdaEDL's entropy rule, or both. */
export const ADAPTIVE_STOPS = ['none', 'depth', 'entropy', 'both'] as const;

/** When model drafters stop growing a tree early: one of {@link ADAPTIVE_STOPS}. */
export type AdaptiveStop = (typeof ADAPTIVE_STOPS)[number];

/** The frontier probability below which EAGLE-2's depth rule stops, when `adaptive` asks for it. */
const DEPTH_RULE_PROBABILITY = 0.05;

/**
 * The growth of a model drafter's trees: the budget's dynamic tree, with the early stops asked
 * for. `option` names the budget (`tree`, or `draftTree` for the draft LM's) in its errors.
 */
export function growthFor(
  budget: DynamicTreeOptions,
  adaptive: AdaptiveStop,
  option: 'tree' | 'draftTree' = 'tree',
): TreeGrowth {
  const depthRule = adaptive === 'depth' || adaptive === 'both';
  let growth: DynamicTreeGrowth;
  try {
    growth = new DynamicTreeGrowth(
      depthRule ? { minFrontierProbability: DEPTH_RULE_PROBABILITY, ...budget } : budget,
    );
  } catch (error) {
    // Core names the budget `tree` whichever drafter's it is.
    if (error instanceof OptionError && error.option === 'tree' && option !== 'tree') {
      throw new OptionError(option, error.value, error.expected);
    }
    throw error;
  }
  return adaptive === 'entropy' || adaptive === 'both' ? new EntropyStopGrowth(growth) : growth;
}
