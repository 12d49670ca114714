import type { Drafter } from '@treespec/core';

/**
 * A model-free drafter that proposes what followed earlier occurrences of the context's suffix
 * (prompt lookup, suffix automata). Drafting costs microseconds, so a {@link HybridDrafter} can
 * ask it first and read how good its match was before deciding whether to run a model.
 */
export interface MatchingDrafter extends Drafter {
  /** Length in tokens of the context suffix that the last `propose` matched; 0 when none. */
  readonly matchLength: number;
}

/** Most draft tokens in a matching drafter's tree (root excluded) where its options name none. */
export const MATCHING_TREE_TOKENS = 16;
