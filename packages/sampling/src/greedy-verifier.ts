import { argmax, NumericError, type Verifier, type VerifyInput, type VerifyResult } from '@treespec/core';

/**
 * Greedy verification: walk from the root, each time following the child whose token is the
 * target's argmax at the current node; the first miss ends the walk and the argmax there is the
 * bonus token. The output is token for token that of plain greedy decoding (ties go to the
 * smallest token id, as in plain decoding with the same argmax).
 */
export class GreedyVerifier implements Verifier {
  readonly name = 'greedy';

  reset(): void {}

  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits, vocabSize } = input;
    let node = 0;
    let length = 1;
    result.path[0] = 0;
    while (true) {
      const best = argmax(logits, node * vocabSize, vocabSize);
      if (best < 0) {
        throw new NumericError(
          `target logits contain NaN at tree node ${node} (sequence position ${input.contextLength - 1 + tree.depths[node]})`,
          input.contextLength - 1 + tree.depths[node],
        );
      }
      let next = -1;
      for (let c = node + 1; c < tree.size; c++) {
        if (tree.parents[c] === node && tree.tokens[c] === best) {
          next = c;
          break;
        }
      }
      if (next < 0) {
        result.bonusToken = best;
        break;
      }
      result.path[length++] = next;
      node = next;
    }
    result.pathLength = length;
  }
}
