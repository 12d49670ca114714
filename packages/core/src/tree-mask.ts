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
 * Writes the additive attention bias for verifying `tree` after `pastLength` past columns: row i
 * has `pastLength + size` columns, 0 for the first `committed` past columns (by default all of
 * them) and for node i's ancestors and itself, {@link MASKED_BIAS} elsewhere. This is the
 * `[1, 1, new, past + new]` bias a tree-ready model takes; `committed` below `pastLength` masks the
 * unused rows of a cache buffer fed whole.
 *
 * `visibility` is scratch of at least size*size bytes (see {@link writeTreeVisibility}).
 */
export function writeAttentionBias(
  tree: DraftTree,
  pastLength: number,
  out: Float32Array,
  visibility: Uint8Array,
  committed: number = pastLength,
): void {
  const n = tree.size;
  const width = pastLength + n;
  checkBiasSize(out, n, pastLength, committed, 'nodes');
  writeTreeVisibility(tree, visibility);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    writePastColumns(out, row, pastLength, committed);
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
 * Writes the additive bias for `rows` new tokens in sequence after `pastLength` past columns (a
 * plain causal mask): row i sees the first `committed` past columns (by default all of them) and
 * new tokens 0..i. Equal to {@link writeAttentionBias} for a chain, without needing a tree.
 */
export function writeCausalBias(
  pastLength: number,
  rows: number,
  out: Float32Array,
  committed: number = pastLength,
): void {
  const width = pastLength + rows;
  checkBiasSize(out, rows, pastLength, committed, 'rows');
  for (let i = 0; i < rows; i++) {
    const row = i * width;
    writePastColumns(out, row, pastLength, committed);
    out.fill(0, row + pastLength, row + pastLength + i + 1);
    out.fill(MASKED_BIAS, row + pastLength + i + 1, row + width);
  }
}

/** Throws unless `out` holds `rows` bias rows after `pastLength` columns and `committed` ≤ `pastLength`. */
function checkBiasSize(
  out: Float32Array,
  rows: number,
  pastLength: number,
  committed: number,
  what: string,
): void {
  const size = rows * (pastLength + rows);
  if (out.length < size)
    throw new OptionError(
      'out.length',
      out.length,
      `at least ${size} for ${rows} ${what} after ${pastLength} positions`,
    );
  if (committed < 0 || committed > pastLength)
    throw new OptionError('committed', committed, `between 0 and pastLength (${pastLength})`);
}

/** A bias row's past columns from `row`: the first `committed` visible, the rest masked. */
function writePastColumns(out: Float32Array, row: number, pastLength: number, committed: number): void {
  out.fill(0, row, row + committed);
  out.fill(MASKED_BIAS, row + committed, row + pastLength);
}
