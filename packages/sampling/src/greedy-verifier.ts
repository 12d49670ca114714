import type { Verifier, VerifyInput, VerifyResult } from '@treespec/core';
import { LogitsPipeline } from './logits-pipeline.js';
import { type ResolvedSampling, resolveSampling, type SamplingOptions } from './sampling-options.js';

/** Penalties a greedy verifier can apply before taking the argmax. */
export type GreedyOptions = Pick<
  SamplingOptions,
  'repetitionPenalty' | 'presencePenalty' | 'frequencyPenalty'
>;

/**
 * Greedy verification: walk from the root, each time following the child whose token is the
 * target's argmax at the current node; the first miss ends the walk and the argmax there is the
 * bonus token. The output is token for token that of plain greedy decoding (ties go to the
 * smallest token id in both). Penalties, when given, see exactly the context plain decoding
 * would see at each node. Non-finite logits throw a `NumericError` naming the position.
 */
export class GreedyVerifier implements Verifier {
  readonly name = 'greedy';
  private pipeline: LogitsPipeline | null = null;
  private readonly sampling: ResolvedSampling;

  constructor(options: GreedyOptions = {}) {
    this.sampling = resolveSampling({ ...options, temperature: 0 });
  }

  reset(): void {
    this.pipeline?.penalties?.reset();
  }

  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits, vocabSize } = input;
    if (this.pipeline?.vocabSize !== vocabSize) this.pipeline = new LogitsPipeline(vocabSize, this.sampling);
    const pipeline = this.pipeline;
    const penalties = pipeline.penalties;
    penalties?.sync(input.context, input.contextLength, input.promptLength);
    let node = 0;
    let length = 1;
    result.path[0] = 0;
    while (true) {
      const best = pipeline.greedyToken(
        logits,
        node * vocabSize,
        input.contextLength - 1 + tree.depths[node],
      );
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
      penalties?.push(best);
      node = next;
    }
    result.pathLength = length;
    if (penalties) for (let k = length - 1; k >= 1; k--) penalties.pop(tree.tokens[result.path[k]]);
  }
}
