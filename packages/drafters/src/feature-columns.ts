import { ContractError, type DraftContext } from '@treespec/core';
import { grownCapacity } from './buffers.js';
import type { CommitRows } from './model-tree-drafter.js';

/**
 * A fixed band of columns of the target's feature rows, as contiguous rows. A target fetched for
 * an EAGLE-3 head returns each row's feature followed by its captured layer inputs; the EAGLE-2
 * head reads the leading feature and the EAGLE-3 head the trailing captured states. When the band
 * is the whole row the context's array is returned as is; otherwise the band is copied into a
 * buffer that grows only when a larger block of rows arrives.
 */
export class FeatureColumns {
  private rows = new Float32Array(0);

  /**
   * @param width columns the model reads per row
   * @param from `leading` (columns [0, width)) or `trailing` (the last `width` columns)
   * @param what names the model in errors
   */
  constructor(
    readonly width: number,
    readonly from: 'leading' | 'trailing',
    readonly what: string,
  ) {}

  /**
   * The band of the context's `featureRows` rows.
   * @throws ContractError when the context has no features or rows narrower than `width`.
   */
  select(context: DraftContext): Float32Array {
    const { features, featureSize, featureRows } = context;
    if (!features || featureSize < this.width) {
      throw new ContractError(
        `${this.what} needs target features of width ${this.width}; got ${features ? featureSize : 'none'}`,
      );
    }
    if (featureSize === this.width) return features;
    const needed = featureRows * this.width;
    if (needed > this.rows.length) this.rows = new Float32Array(grownCapacity(this.rows.length, needed));
    const offset = this.from === 'leading' ? 0 : featureSize - this.width;
    for (let r = 0; r < featureRows; r++) {
      const start = r * featureSize + offset;
      this.rows.set(features.subarray(start, start + this.width), r * this.width);
    }
    return this.rows;
  }
}

/**
 * The rows a feature drafter commits to its head before drafting: the newly committed tokens, each
 * with the feature band `columns` of the target row before it; null on the first call of a
 * sequence, when there is nothing yet.
 * @throws ContractError when tokens were committed without their features.
 */
export function featureRowsToCommit(
  context: DraftContext,
  committedRows: number,
  columns: FeatureColumns,
): CommitRows | null {
  if (context.featureRows > 0) {
    const start = context.featureStart + 1;
    return {
      start: context.featureStart,
      tokens: context.tokens.subarray(start, start + context.featureRows),
      features: columns.select(context),
      featureWidth: columns.width,
      rows: context.featureRows,
    };
  }
  if (committedRows === 0) return null;
  throw new ContractError(
    `${columns.what} was called without the target features of the newly committed tokens`,
  );
}
