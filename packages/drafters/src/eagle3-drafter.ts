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

/** An EAGLE-3 head: committed rows take the target's captured states, draft rows the head's own hidden state. */
export interface Eagle3DraftModel extends DraftModel {
  /** Width of a committed row's captured target states (captured layers x hidden). */
  readonly capturedFeatureSize: number;
}

/** Options of {@link Eagle3Drafter}. */
export interface Eagle3DrafterOptions extends ModelTreeDrafterOptions {
  /** The shape of the trees; default an EAGLE-2 dynamic tree with {@link Eagle3DrafterOptions.tree}. */
  growth?: TreeGrowth;
  /** EAGLE-2 budget when no `growth` is given. Defaults: topK 8, depth 5, totalTokens 32. */
  tree?: DynamicTreeOptions;
  /**
   * Draw each node's children from the head's draft distribution (at the generation's temperature
   * unless `sample.temperature` fixes one), without replacement, instead of taking its top-k,
   * making `sampled-distinct` trees for lossless verification with min(1, p/q_k). q covers the
   * head's draft vocabulary (`draftTokenIds`, its `d2t`), every other target token at q = 0.
   * Needs a head that returns its `logits` and a growth that keeps every node (a static shape).
   */
  sample?: DraftSampling;
}

/**
 * EAGLE-3 drafting. Each step the head first commits the newly committed tokens with the target's
 * captured layer inputs (row i pairs token i + 1 with the states of row i; the head fuses them with
 * its `fc`), taken from the trailing columns of the target's feature rows; then the tree grows one
 * depth per head call, each draft row fed the head's own hidden state of the row that proposed it,
 * exactly as EAGLE-2 (the dynamic growth, reranking and budgets apply unchanged). The head's draft
 * ids arrive already mapped to target ids; with `sample`, the children are drawn over its draft
 * vocabulary and mapped through `draftTokenIds` (for sampling generations).
 */
export class Eagle3Drafter extends ModelTreeDrafter {
  readonly name = 'eagle3';
  readonly needsFeatures = true;
  private readonly captured: FeatureColumns;

  constructor(head: Eagle3DraftModel, options: Eagle3DrafterOptions = {}) {
    super(head, options.growth ?? new DynamicTreeGrowth(options.tree), options);
    this.captured = new FeatureColumns(head.capturedFeatureSize, 'trailing', 'the EAGLE-3 head');
  }

  protected rowsToCommit(context: DraftContext): CommitRows | null {
    return featureRowsToCommit(context, this.model.committedRows, this.captured);
  }
}
