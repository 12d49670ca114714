import type { Verifier, VerifyInput, VerifyResult } from '@treespec/core';
import { LogitsPipeline } from './logits-pipeline.js';
import { childWithToken, followRowTokens } from './row-tokens.js';
import {
  hasPenalties,
  type ResolvedSampling,
  resolveSampling,
  type SamplingOptions,
} from './sampling-options.js';

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
 *
 * Without penalties it reads nothing of a row but its argmax ({@link argmaxOnly}), so it takes the
 * target's in-graph greedy tokens where the target returns them; a row whose logit sum is not
 * finite is then refused as a whole (a -Infinity logit too, which the logits path would pass over).
 */
export class GreedyVerifier implements Verifier {
  readonly name = 'greedy';
  readonly argmaxOnly: boolean;
  private pipeline: LogitsPipeline | null = null;
  private readonly sampling: ResolvedSampling;

  constructor(options: GreedyOptions = {}) {
    this.sampling = resolveSampling({ ...options, temperature: 0 });
    this.argmaxOnly = !hasPenalties(this.sampling);
  }

  reset(): void {
    this.pipeline?.penalties?.reset();
  }

  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits, vocabSize, greedyTokens, logitSums } = input;
    if (this.argmaxOnly && greedyTokens !== undefined && logitSums !== undefined) {
      followRowTokens(tree, greedyTokens, logitSums, input.contextLength, result);
      return;
    }
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
      const next = childWithToken(tree, node, best);
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
