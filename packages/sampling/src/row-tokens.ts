import { type DraftTree, NumericError, type VerifyResult } from '@treespec/core';

/**
 * Row `node`'s token computed in the target's graph (its greedy token, or one drawn there),
 * refused as a whole when the row's logit sum is not finite: a NaN or an infinity anywhere in the
 * row (a -Infinity logit too, which the logits path would pass over).
 */
export function checkedToken(
  tokens: Int32Array,
  logitSums: Float32Array,
  node: number,
  position: number,
): number {
  const sum = logitSums[node] as number;
  if (!Number.isFinite(sum)) {
    throw new NumericError(
      `target logits at sequence position ${position} are not all finite (their sum is ${sum})`,
      position,
    );
  }
  return tokens[node] as number;
}

/** The child of `node` whose token is `token`, or -1. */
export function childWithToken(tree: DraftTree, node: number, token: number): number {
  for (let c = node + 1; c < tree.size; c++)
    if (tree.parents[c] === node && tree.tokens[c] === token) return c;
  return -1;
}

/**
 * Walks the tree along the tokens the target's graph computed for its nodes (each row's greedy
 * token, or the one drawn there): the child with the row's token is accepted; the first row token
 * no child has is the bonus token. The tree's root follows `contextLength` committed tokens.
 */
export function followRowTokens(
  tree: DraftTree,
  tokens: Int32Array,
  logitSums: Float32Array,
  contextLength: number,
  result: VerifyResult,
): void {
  let node = 0;
  let length = 1;
  result.path[0] = 0;
  while (true) {
    const token = checkedToken(tokens, logitSums, node, contextLength - 1 + tree.depths[node]);
    const next = childWithToken(tree, node, token);
    if (next < 0) {
      result.bonusToken = token;
      break;
    }
    result.path[length++] = next;
    node = next;
  }
  result.pathLength = length;
}
