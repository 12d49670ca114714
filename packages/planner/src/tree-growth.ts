import { DynamicTreeGrowth, type DynamicTreeOptions, type TreeGrowth } from '@treespec/core';
import { EntropyStopGrowth } from '@treespec/drafters';

/** When model drafters stop growing a tree early: never, EAGLE-2's depth rule, AdaEDL's entropy rule, or both. */
export type AdaptiveStop = 'none' | 'depth' | 'entropy' | 'both';

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
