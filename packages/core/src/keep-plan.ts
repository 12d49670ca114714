import type { DraftTree } from './draft-tree.js';
import { ContractError } from './errors.js';

/**
 * Which KV-cache entries of a verified tree survive, in order: after verification, the k-th
 * survivor is tree slot `slots[k]` and belongs at cache position `pastLength + k`.
 *
 * Since parents precede children, `slots[k] >= k`. A cache that wrote the whole tree at
 * positions `pastLength..` can therefore be compacted in place by moving slot `slots[k]` to
 * position `pastLength + k` for k from `firstMove` up: no move overwrites an entry a later
 * move still reads, and the cost is proportional to the accepted tokens, not the context.
 */
export class KeepPlan {
  /** Tree slots that survive, in order; the first `count` entries are meaningful. */
  readonly slots: Int32Array;
  /** Number of surviving slots (the accepted path, root included). */
  count = 0;
  /** First k with `slots[k] !== k`; entries before it are already in place. Equals `count` when none move. */
  firstMove = 0;

  constructor(capacity: number) {
    this.slots = new Int32Array(capacity);
  }
}

/**
 * Fills `plan` from the accepted path `path[0..length)` of `tree`, checking that it starts at
 * the root and that each slot is a child of the one before it.
 */
export function planKeep(tree: DraftTree, path: Int32Array, length: number, plan: KeepPlan): KeepPlan {
  if (length < 1 || path[0] !== 0) {
    throw new ContractError(
      `an accepted path must start at the root (slot 0); got [${Array.from(path.subarray(0, length))}]`,
    );
  }
  if (length > plan.slots.length) {
    throw new ContractError(
      `an accepted path of ${length} slots exceeds the keep-plan capacity ${plan.slots.length}`,
    );
  }
  plan.slots[0] = 0;
  plan.firstMove = length;
  for (let k = 1; k < length; k++) {
    const slot = path[k];
    if (slot <= 0 || slot >= tree.size || tree.parents[slot] !== path[k - 1]) {
      throw new ContractError(
        `accepted path slot ${slot} at step ${k} is not a child of slot ${path[k - 1]} in a tree of ${tree.size} nodes`,
      );
    }
    plan.slots[k] = slot;
    if (slot !== k && plan.firstMove === length) plan.firstMove = k;
  }
  plan.count = length;
  return plan;
}
