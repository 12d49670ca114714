import type { DraftTree } from './draft-tree.js';
import { ContractError } from './errors.js';

/**
 * Checks the tree a drafter returned before the target sees it, in one pass over its nodes: its
 * root is the last committed token (`root`, which the drafter must not have overwritten in its
 * context either), it holds 1 to `capacity` nodes, each node's parent comes before it, each depth
 * is its parent's plus one, and each token lies in the vocabulary. A tree that breaks one of these
 * would not fail loudly: a wrong root or depth is fed to the target's cache and corrupts the rest
 * of the generation, an id past the vocabulary fails deep in the runtime.
 * @throws ContractError naming the drafter, the node and the rule.
 */
export function checkDraftTree(
  tree: DraftTree,
  root: number,
  lastCommitted: number,
  vocabSize: number,
  drafter: string,
): void {
  const fail = (rule: string) => {
    throw new ContractError(`the ${drafter} drafter returned a draft tree that breaks the contract: ${rule}`);
  };
  if (lastCommitted !== root)
    fail(
      `it wrote into its context's tokens (the last committed token ${root} became ${lastCommitted}); they are read-only`,
    );
  const { size, tokens, parents, depths } = tree;
  if (!(Number.isInteger(size) && size >= 1 && size <= tree.capacity))
    fail(`its size is ${size}; expected 1 (the root) to ${tree.capacity}, the drafter's maxTreeSize`);
  if (tokens[0] !== root) fail(`its root is token ${tokens[0]}; expected the last committed token ${root}`);
  if (depths[0] !== 0) fail(`its root has depth ${depths[0]}; expected 0`);
  for (let i = 1; i < size; i++) {
    const parent = parents[i];
    if (!(parent >= 0 && parent < i))
      fail(`node ${i} has parent ${parent}; expected a node before it, in [0, ${i})`);
    if (depths[i] !== depths[parent] + 1)
      fail(`node ${i} has depth ${depths[i]}; expected its parent's plus one (${depths[parent] + 1})`);
    const token = tokens[i];
    if (!(token >= 0 && token < vocabSize))
      fail(`node ${i} has token ${token}; expected an id in [0, ${vocabSize})`);
  }
}
