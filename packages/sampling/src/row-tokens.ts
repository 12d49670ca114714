import { NumericError } from '@treespec/core';

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
