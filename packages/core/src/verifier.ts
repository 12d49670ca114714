import type { DraftTree } from './draft-tree.js';

/** The verified tree and the target's view of it. */
export interface VerifyInput {
  readonly tree: DraftTree;
  /** Target logits per tree node, `tree.size` x `vocabSize`, row-major; empty when `greedyTokens` replaces them. */
  readonly logits: Float32Array;
  /**
   * Each node's greedy token and logit sum in place of `logits` (see `TargetStep.greedyTokens`),
   * given only to a verifier that declares {@link Verifier.argmaxOnly}.
   */
  readonly greedyTokens?: Int32Array;
  readonly logitSums?: Float32Array;
  /**
   * Each node's token drawn by the target from the uniforms {@link Verifier.sampleUniforms} wrote
   * (see `TargetStep.sampledTokens`), with `logitSums`, in place of `logits`.
   */
  readonly sampledTokens?: Int32Array;
  /**
   * With `sampledTokens` and `logitSums`, for the uniforms {@link Verifier.weighsRows} wrote: each
   * node's softmax weights at the verifier's temperature and their sum (see
   * `TargetStep.sampleWeights`), in place of `logits`.
   */
  readonly sampleWeights?: Float32Array;
  readonly sampleMasses?: Float32Array;
  readonly vocabSize: number;
  /** Committed tokens; the last one is the tree's root. */
  readonly context: Int32Array;
  readonly contextLength: number;
  /** How many of the committed tokens are the prompt (penalties may treat them differently). */
  readonly promptLength: number;
}

/**
 * What a verifier knows of a sampled tree's chain of first draws (the root's first child, its
 * first child, …) beyond which of them it accepted: for the draw at depth `k + 1` (k < `count`),
 * `ratios[k]` is the chance the target accepts it once its parent is reached, min(1, p/q) of the
 * drawn token, and `overlaps[k]` the chance it would accept a draw from its parent's q,
 * Σ min(p, q). A budget controller learns a sampled tree's acceptance from these expectations
 * rather than from the one path the draws took, which varies far more from step to step.
 */
export class FirstDraws {
  /** Draws known; 0 when the verifier knows none (a top-k tree, or a tree verified on logits). */
  count = 0;
  readonly ratios: Float32Array;
  readonly overlaps: Float32Array;

  constructor(capacity: number) {
    this.ratios = new Float32Array(capacity);
    this.overlaps = new Float32Array(capacity);
  }
}

/** Where a verifier writes its decision; allocated once, reused every step. */
export class VerifyResult {
  /** Accepted tree slots, root first. */
  readonly path: Int32Array;
  /** Length of the accepted path (root included, so at least 1). */
  pathLength = 1;
  /** The token the target itself chose after the last accepted node. */
  bonusToken = -1;
  /** The chances of the tree's chain of first draws, where the verifier knows them. */
  readonly firstDraws: FirstDraws;

  constructor(capacity: number) {
    this.path = new Int32Array(capacity);
    this.firstDraws = new FirstDraws(capacity);
  }
}

/**
 * Decides which drafted tokens the target accepts, without changing the target's output
 * distribution: greedy verification follows the argmax; stochastic verification samples.
 */
export interface Verifier {
  /** Short name shown in statistics. */
  readonly name: string;
  /** The sampling seed of the next generation, for verifiers that sample (passed on to the drafter). */
  readonly seed?: number;
  /**
   * The temperature of the target distribution the verifier samples from, for verifiers that
   * sample (passed on to the drafter, whose sampled trees draw from their own distribution at it).
   */
  readonly temperature?: number;
  /**
   * True when the verifier reads nothing of a row but its greedy token (greedy verification
   * without logits processors): the decoder may then ask the target for greedy tokens instead of
   * logits.
   */
  readonly argmaxOnly?: boolean;
  /**
   * For a verifier that, for this tree, reads nothing of a row but a token drawn from the row's
   * softmax at {@link Verifier.temperature} (no logits processors, candidates not drawn from a
   * draft distribution): writes each node's two uniforms (`RowSampling.uniforms`) into
   * `out[0..2 × tree.size)` and returns true, so the decoder may ask the target to draw the tokens
   * itself; returns false otherwise. The tree's root follows `contextLength` committed tokens.
   */
  sampleUniforms?(tree: DraftTree, contextLength: number, out: Float32Array): boolean;
  /**
   * For a verifier that, for this tree, reads nothing of a row but its softmax at
   * {@link Verifier.temperature} and a token drawn from it (no logits processors, candidates drawn
   * from a draft distribution): writes each node's two uniforms as {@link Verifier.sampleUniforms}
   * does and returns true, so the decoder may ask the target for each row's softmax weights
   * (`RowSampling.weights`) in place of its logits; returns false otherwise.
   */
  weighsRows?(tree: DraftTree, contextLength: number, out: Float32Array): boolean;
  /** Forgets per-generation state (e.g. reseeds). Called before every generation. */
  reset(): void;
  /** Walks the tree and writes the accepted path and the bonus token into `result`. */
  verify(input: VerifyInput, result: VerifyResult): void;
}
