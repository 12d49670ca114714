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
 * How many of the tokens `committed[0 .. count)` another tree would have accepted: the length of
 * its walk from the root along children with exactly those tokens. Under greedy verification this
 * is what that tree would have accepted, unless the walk used every committed token (then it
 * would have accepted at least that many).
 */
export function replayAccepted(tree: DraftTree, committed: Int32Array, count: number): number {
  let node = 0;
  let accepted = 0;
  for (; accepted < count; accepted++) {
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
  return accepted;
}
