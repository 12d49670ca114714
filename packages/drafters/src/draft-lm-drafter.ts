import {
  ContractError,
  type DraftContext,
  type DraftModel,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  type TreeGrowth,
} from '@treespec/core';
import type { DraftSampling } from './draft-sampler.js';
import { type CommitRows, ModelTreeDrafter, type ModelTreeDrafterOptions } from './model-tree-drafter.js';

/** Options of {@link DraftLmDrafter}. */
export interface DraftLmDrafterOptions extends ModelTreeDrafterOptions {
  /** The shape of the trees; default a dynamic tree (EAGLE-2's rule with the draft LM) from `tree`. */
  growth?: TreeGrowth;
  /** Dynamic-tree budget when no `growth` is given. Defaults: core's `DYNAMIC_TREE_DEFAULTS`. */
  tree?: DynamicTreeOptions;
  /**
   * Draw each node's children from the draft distribution (at the generation's temperature unless
   * `sample.temperature` fixes one), without replacement, instead of taking its top-k, making
   * `sampled-distinct` trees for lossless verification with min(1, p/q_k). Needs a growth that keeps every
   * node (a static shape or a chain). Sampled trees accept more under sampling when the draft LM
   * is close to the target; greedy decoding wants top-k.
   */
  sample?: DraftSampling;
}

const EMPTY = new Float32Array(0);

/**
 * Classic draft-model speculative decoding, grown into trees: an independent small LM with the
 * target's tokenizer proposes a chain, a static tree or a dynamic tree (top-k expansion by
 * cumulative log-probability, as EAGLE-2 does with its head), or sampled trees. Its KV cache
 * follows the committed tokens: each step it commits the tokens added since the last one (the
 * accepted path and the bonus), and the draft rows of the previous round are dropped.
 */
export class DraftLmDrafter extends ModelTreeDrafter {
  readonly name = 'draft-lm';
  readonly needsFeatures = false;

  constructor(model: DraftModel, options: DraftLmDrafterOptions = {}) {
    if (model.featureSize !== 0)
      throw new ContractError('a draft LM takes no features; this model has a hidden size');
    super(model, options.growth ?? new DynamicTreeGrowth(options.tree), options);
  }

  protected rowsToCommit(context: DraftContext): CommitRows | null {
    const done = this.skipped + this.model.committedRows;
    if (done > context.length)
      throw new ContractError('the draft LM holds more tokens than were committed; reset() it first');
    return {
      start: done,
      tokens: context.tokens.subarray(done, context.length),
      features: EMPTY,
      featureWidth: 0,
      rows: context.length - done,
    };
  }
}
