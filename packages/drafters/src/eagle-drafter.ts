import {
  type DraftContext,
  type DraftModel,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  type TreeGrowth,
} from '@treespec/core';
import type { DraftSampling } from './draft-sampler.js';
import { FeatureColumns, featureRowsToCommit } from './feature-columns.js';
import { type CommitRows, ModelTreeDrafter, type ModelTreeDrafterOptions } from './model-tree-drafter.js';

/** Options of {@link EagleDrafter}. */
export interface EagleDrafterOptions extends ModelTreeDrafterOptions {
  /** The shape of the trees; default an EAGLE-2 dynamic tree with {@link EagleDrafterOptions.tree}. */
  growth?: TreeGrowth;
  /** EAGLE-2 budget when no `growth` is given. Defaults: core's `DYNAMIC_TREE_DEFAULTS`. */
  tree?: DynamicTreeOptions;
  /**
   * Draw each node's children from the head's draft distribution (at the generation's temperature
   * unless `sample.temperature` fixes one), without replacement, instead of taking its top-k,
   * making `sampled-distinct` trees for lossless verification with min(1, p/q_k). Needs a head
   * that returns its `logits` (over the target vocabulary, or over a draft vocabulary whose target
   * ids it gives as `draftTokenIds`) and a growth that keeps every node (a static shape).
   */
  sample?: DraftSampling;
}

/**
 * EAGLE-1/2 drafting with a feature head. Each step the head first commits the target's
 * features of the newly committed tokens (row i pairs token i + 1 with feature i); then the tree
 * grows one depth per head call, each draft row fed the head's own predicted feature of the row
 * that proposed it. With the default dynamic growth this is EAGLE-2; with a static shape, EAGLE-1;
 * with `sample`, the children are drawn from the head's distribution (for sampling generations).
 */
export class EagleDrafter extends ModelTreeDrafter {
  readonly name: string;
  readonly needsFeatures = true;
  /** The leading feature columns (a target fetched for an EAGLE-3 head appends its captured states). */
  private readonly feature: FeatureColumns;

  constructor(head: DraftModel, options: EagleDrafterOptions = {}) {
    const growth = options.growth ?? new DynamicTreeGrowth(options.tree);
    super(head, growth, options);
    this.name = growth.prunes ? 'eagle2' : 'eagle1';
    this.feature = new FeatureColumns(head.featureSize, 'leading', 'the EAGLE head');
  }

  /** The head this drafter drives. */
  get head(): DraftModel {
    return this.model;
  }

  protected rowsToCommit(context: DraftContext): CommitRows | null {
    return featureRowsToCommit(context, this.model.committedRows, this.feature);
  }
}
