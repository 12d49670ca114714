import type { DraftOutcome, DraftTree } from '@treespec/core';

/**
 * Writes into `out` the tokens a verification committed — the accepted path's tokens, then the
 * bonus token — and returns their count (path length, i.e. accepted + 1).
 */
export function committedTokens(outcome: DraftOutcome, out: Int32Array): number {
  const { tree, path, pathLength } = outcome;
  for (let k = 1; k < pathLength; k++) out[k - 1] = tree.tokens[path[k]];
  out[pathLength - 1] = outcome.bonusToken;
  return pathLength;
}

/**
 * Where another tree's walk from the root along children with exactly the tokens
 * `committed[0 .. count)` ends: the last node whose path spells a prefix of them. Its depth is how
 * many of them that tree would have accepted under greedy verification, unless the walk used every
 * committed token or ended at a leaf (then at least that many).
 */
export function replayWalk(tree: DraftTree, committed: Int32Array, count: number): number {
  let node = 0;
  for (let accepted = 0; accepted < count; accepted++) {
    let next = -1;
    for (let c = node + 1; c < tree.size; c++) {
      if (tree.parents[c] === node && tree.tokens[c] === committed[accepted]) {
        next = c;
        break;
      }
    }
    if (next < 0) break;
    node = next;
  }
  return node;
}

/** The node where the walk along first children only (the tree's first path) ends; see {@link replayWalk}. */
export function replayFirstPath(tree: DraftTree, committed: Int32Array, count: number): number {
  let node = 0;
  for (let accepted = 0; accepted < count; accepted++) {
    const child = tree.firstChild(node);
    if (child < 0 || tree.tokens[child] !== committed[accepted]) break;
    node = child;
  }
  return node;
}
