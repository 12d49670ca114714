import {
  ContractError,
  type DraftContext,
  type DraftModel,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  type TreeGrowth,
} from '@treespec/core';
import { type CommitRows, ModelTreeDrafter } from './model-tree-drafter.js';

/** Options of {@link EagleDrafter}. */
export interface EagleDrafterOptions {
  /** The shape of the trees; default an EAGLE-2 dynamic tree with {@link EagleDrafterOptions.tree}. */
  growth?: TreeGrowth;
  /** EAGLE-2 budget when no `growth` is given. Defaults: core's `DYNAMIC_TREE_DEFAULTS`. */
  tree?: DynamicTreeOptions;
}

/**
 * EAGLE-1/2 drafting with a feature head. Each step the head first commits the target's
 * features of the newly committed tokens (row i pairs token i + 1 with feature i); then the tree
 * grows one depth per head call, each draft row fed the head's own predicted feature of the row
 * that proposed it. With the default dynamic growth this is EAGLE-2; with a static shape, EAGLE-1.
 */
export class EagleDrafter extends ModelTreeDrafter {
  readonly name: string;
  readonly needsFeatures = true;

  constructor(head: DraftModel, options: EagleDrafterOptions = {}) {
    const growth = options.growth ?? new DynamicTreeGrowth(options.tree);
    super(head, growth);
    this.name = growth.prunes ? 'eagle2' : 'eagle1';
  }

  /** The head this drafter drives. */
  get head(): DraftModel {
    return this.model;
  }

  protected rowsToCommit(context: DraftContext): CommitRows | null {
    const hidden = this.model.featureSize;
    if (context.featureRows > 0) {
      if (!context.features || context.featureSize !== hidden) {
        throw new ContractError(
          `the EAGLE head needs target features of width ${hidden}; got ${context.features ? context.featureSize : 'none'}`,
        );
      }
      const start = context.featureStart + 1;
      return {
        tokens: context.tokens.subarray(start, start + context.featureRows),
        features: context.features,
        rows: context.featureRows,
      };
    }
    if (this.model.committedRows === 0) return null;
    throw new ContractError(
      'the EAGLE drafter was called without the features of the newly committed tokens',
    );
  }
}
