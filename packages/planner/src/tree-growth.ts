import { DynamicTreeGrowth, type DynamicTreeOptions, type TreeGrowth } from '@treespec/core';
import { EntropyStopGrowth } from '@treespec/drafters';

/** The early stops of model drafters' trees: never, EAGLE-2's depth rule, AdaEDL's entropy rule, or both. */
export const ADAPTIVE_STOPS = ['none', 'depth', 'entropy', 'both'] as const;

/** When model drafters stop growing a tree early: one of {@link ADAPTIVE_STOPS}. */
export type AdaptiveStop = (typeof ADAPTIVE_STOPS)[number];

/** The frontier probability below which EAGLE-2's depth rule stops, when `adaptive` asks for it. */
const DEPTH_RULE_PROBABILITY = 0.05;

/** The growth of a model drafter's trees: the budget's dynamic tree, with the early stops asked for. */
export function growthFor(budget: DynamicTreeOptions, adaptive: AdaptiveStop): TreeGrowth {
  const depthRule = adaptive === 'depth' || adaptive === 'both';
  const growth = new DynamicTreeGrowth(
    depthRule ? { minFrontierProbability: DEPTH_RULE_PROBABILITY, ...budget } : budget,
  );
  return adaptive === 'entropy' || adaptive === 'both' ? new EntropyStopGrowth(growth) : growth;
}
