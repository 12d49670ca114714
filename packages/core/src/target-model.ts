import type { DraftTree } from './draft-tree.js';
import type { KeepPlan } from './keep-plan.js';

/**
 * What a target forward pass returns. The arrays belong to the model and stay valid until its
 * next call; copy what must outlive that.
 */
export interface TargetStep {
  /** Rows processed: prompt tokens for a prefill, tree nodes for a verification. */
  readonly rows: number;
  /** Next-token logits, `rows` x `vocabSize`, row-major. Row i predicts what follows row i. */
  readonly logits: Float32Array;
  /**
   * The model's last hidden state after the final norm (the EAGLE feature), `rows` x
   * `featureSize`; null when the model exports none or it was not requested.
   */
  readonly features: Float32Array | null;
  /**
   * Each row's greedy token, the first index of its largest logit, in place of `logits` (then
   * empty): returned when the call asked for `greedy` and the model computes it in its graph.
   */
  readonly greedyTokens?: Int32Array;
  /**
   * Beside `greedyTokens`: each row's sum of logits, finite exactly when every logit of the row
   * is (a NaN or an infinity anywhere makes it non-finite), so greedy verification can still
   * refuse a non-finite row without its logits.
   */
  readonly logitSums?: Float32Array;
  /**
   * Each row's token drawn from the softmax of its logits at `sample.temperature` with the row's
   * two uniforms (`sample.uniforms`), in place of `logits` (then empty), beside `logitSums`:
   * returned when the call asked for `sample` and the model draws tokens in its graph.
   */
  readonly sampledTokens?: Int32Array;
  /**
   * Beside `sampledTokens`, when the call asked for `sample` with `weights`: each row's softmax
   * weights at `sample.temperature`, `exp((logit − the row's largest logit) / temperature)`,
   * `rows` x `vocabSize`, unnormalised (the largest is 1); the row's distribution is its weights
   * over `sampleMasses`.
   */
  readonly sampleWeights?: Float32Array;
  /** Beside `sampleWeights`: each row's sum of weights. */
  readonly sampleMasses?: Float32Array;
}

/**
 * Draws each row's token in the model from the softmax of the row's logits at `temperature`, with
 * two uniforms per row: the first picks a block of the vocabulary by the blocks' probabilities,
 * the second a token of that block by the tokens' probabilities within it (so each token is drawn
 * with its probability, resolved in float32 level by level).
 */
export interface RowSampling {
  /**
   * Two uniforms in [0, 1) per row of the call, row by row (entries past the call's rows are
   * ignored): float32 values, each a multiple of 2^-24.
   */
  readonly uniforms: Float32Array;
  /** Above 0. */
  readonly temperature: number;
  /**
   * Also return each row's softmax weights and their sum (`TargetStep.sampleWeights`,
   * `sampleMasses`) beside the drawn tokens, where the model has them
   * ({@link TargetModel.sampleWeights}); without them, the logits. Default false.
   */
  readonly weights?: boolean;
}

/** Options of a target call. */
export interface TargetCallOptions {
  /** Also return features (EAGLE drafters need them). Default false. */
  readonly features?: boolean;
  /**
   * A verification whose caller needs only each row's greedy token: a model with
   * {@link TargetModel.greedyTokens} returns `greedyTokens` and `logitSums` instead of the logits,
   * sparing their copy. Default false.
   */
  readonly greedy?: boolean;
  /**
   * A verification whose caller needs only a token drawn from each row at a temperature: a model
   * with {@link TargetModel.sampledTokens} returns `sampledTokens` and `logitSums` instead of the
   * logits, sparing their copy and the softmax over the vocabulary in JavaScript.
   */
  readonly sample?: RowSampling;
  /** Cancels the call where the runtime allows. */
  readonly signal?: AbortSignal;
}

/**
 * The model whose output speculative decoding must reproduce. It owns a KV cache over the
 * committed sequence; `cachedLength` tokens are in it.
 *
 * The committed sequence always ends with one token the model has not processed yet: the root
 * of the next draft tree. `prefill` processes a prompt minus that last token; each
 * `verify` processes a tree rooted at it; `commit` keeps the accepted path's entries.
 */
export interface TargetModel {
  /** Size of the output distribution. */
  readonly vocabSize: number;
  /** Length of the hidden state returned as features; 0 when the model exports none. */
  readonly featureSize: number;
  /** Most positions the model can attend over (prompt + generated). */
  readonly maxContext: number;
  /** Tokens held in the KV cache. */
  readonly cachedLength: number;
  /** Most tree nodes (root included) one `verify` takes, when the model has such a limit. */
  readonly maxTreeSize?: number;
  /** Whether `verify` returns greedy tokens in place of logits when asked (`greedy`). */
  readonly greedyTokens?: boolean;
  /** Whether `verify` returns tokens drawn in the model in place of logits when asked (`sample`). */
  readonly sampledTokens?: boolean;
  /**
   * Whether `verify` also returns each row's softmax weights and their sum in place of logits when
   * asked (`sample` with `weights`).
   */
  readonly sampleWeights?: boolean;
  /** Drops the cache. */
  reset(): void;
  /**
   * Processes `tokens` after the cached ones and commits them all; logits are not required
   * for a prefill (may be empty), features are returned for every row when asked. A runner may
   * stop between chunks once `options.signal` is aborted; `rows` then says how many it committed.
   */
  prefill(tokens: Int32Array, options?: TargetCallOptions): Promise<TargetStep>;
  /**
   * Runs the tree after the cached tokens: node i at position `cachedLength + depth(i)`,
   * attending to the cache and to its own ancestors. Nothing is committed yet.
   */
  verify(tree: DraftTree, options?: TargetCallOptions): Promise<TargetStep>;
  /** Keeps the KV entries of the accepted slots of the last verified tree (see {@link KeepPlan}). */
  commit(plan: KeepPlan): void;
  /** Releases native resources. */
  dispose?(): Promise<void>;
}
