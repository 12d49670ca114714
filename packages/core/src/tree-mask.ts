import type { DraftTree } from './draft-tree.js';
import { OptionError } from './errors.js';

/**
 * The additive bias for a masked attention entry: the lowest finite float32, so that adding it
 * to a score never produces NaN, and exp() of the result is exactly 0.
 */
export const MASKED_BIAS = -3.4028234663852886e38;

/**
 * Writes the tree's visibility matrix into `out` (row-major, `tree.size` x `tree.size`):
 * entry (i, j) is 1 when node j is node i or one of its ancestors, else 0.
 * Runs in O(size^2) by copying each parent's row, since parents precede children.
 */
export function writeTreeVisibility(tree: DraftTree, out: Uint8Array): void {
  const n = tree.size;
  if (out.length < n * n)
    throw new OptionError('out.length', out.length, `at least ${n * n} for a tree of ${n}`);
  out.fill(0, 0, n * n);
  out[0] = 1;
  for (let i = 1; i < n; i++) {
    const parent = tree.parents[i];
    out.copyWithin(i * n, parent * n, parent * n + parent + 1);
    out[i * n + i] = 1;
  }
}

/**
 * Writes the additive attention bias for verifying `tree` after `pastLength` committed
 * positions: row i has `pastLength + size` columns, 0 for every committed position and for node
 * i's ancestors and itself, {@link MASKED_BIAS} elsewhere. This is the `[1, 1, new, past + new]`
 * bias a tree-ready model takes.
 *
 * `visibility` is scratch of at least size*size bytes (see {@link writeTreeVisibility}).
 */
export function writeAttentionBias(
  tree: DraftTree,
  pastLength: number,
  out: Float32Array,
  visibility: Uint8Array,
): void {
  const n = tree.size;
  const width = pastLength + n;
  if (out.length < n * width) {
    throw new OptionError(
      'out.length',
      out.length,
      `at least ${n * width} for ${n} nodes after ${pastLength} positions`,
    );
  }
  writeTreeVisibility(tree, visibility);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    out.fill(0, row, row + pastLength);
    const visRow = i * n;
    for (let j = 0; j < n; j++) out[row + pastLength + j] = visibility[visRow + j] === 1 ? 0 : MASKED_BIAS;
  }
}

/** Writes each node's position id, `pastLength + depth`, into `out`. */
export function writePositionIds(tree: DraftTree, pastLength: number, out: Int32Array): void {
  const n = tree.size;
  if (out.length < n) throw new OptionError('out.length', out.length, `at least ${n} for a tree of ${n}`);
  for (let i = 0; i < n; i++) out[i] = pastLength + tree.depths[i];
}

/**
 * Writes the additive bias for `rows` new tokens in sequence after `pastLength` committed
 * positions (a plain causal mask): row i sees every committed position and new tokens 0..i.
 * Equal to {@link writeAttentionBias} for a chain, without needing a tree.
 */
export function writeCausalBias(pastLength: number, rows: number, out: Float32Array): void {
  const width = pastLength + rows;
  if (out.length < rows * width) {
    throw new OptionError(
      'out.length',
      out.length,
      `at least ${rows * width} for ${rows} rows after ${pastLength} positions`,
    );
  }
  for (let i = 0; i < rows; i++) {
    const row = i * width;
    out.fill(0, row, row + pastLength + i + 1);
    out.fill(MASKED_BIAS, row + pastLength + i + 1, row + width);
  }
}
