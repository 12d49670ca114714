/**
 * What a draft model call returns; the arrays stay valid until the model's next call. A `draft`
 * call returns every row it was given; a `commit` returns its newest committed row alone.
 */
export interface DraftModelStep {
  /** Rows whose outputs follow: the rows given to `draft`, 1 for `commit`. */
  readonly rows: number;
  /**
   * Predicted next feature of each row, `rows` x `featureSize` (EAGLE feeds it back to child
   * rows); empty for models without features.
   */
  readonly hidden: Float32Array;
  /** Top-`k` draft log-probabilities of each row, best first, `rows` x `k`. */
  readonly topLogProbs: Float32Array;
  /** Their token ids, `rows` x `k`. */
  readonly topTokens: Int32Array;
  /** Candidates per row. */
  readonly k: number;
  /**
   * The next-token logits when the model exposes them (draft LMs; heads asked for them):
   * `rows` x `vocabSize`, or `rows` x `draftTokenIds.length` for a model with
   * {@link DraftModel.draftTokenIds}.
   */
  readonly logits?: Float32Array;
  /**
   * In place of `logits`, when the drafter asked for them ({@link DraftModel.requestLogits}) and
   * the model computes them: each row's draft distribution at temperature 1, the softmax of its
   * logits, so that a sampled tree at that temperature need not take the softmax in JavaScript
   * (8192 exponentials a node cost about 0.1 ms on the reference CPU). `rows` x the columns of
   * `logits`, or x `probabilityIds.length` where given.
   */
  readonly probabilities?: Float32Array;
  /**
   * With `probabilities`, for a model whose distribution also covers tokens of the generation's
   * context (an EAGLE head that scores context tokens beside its draft vocabulary): the target id
   * of each column. The same array for as long as the columns stay the same (a new one when they
   * change), and the same for every call of one tree.
   */
  readonly probabilityIds?: Int32Array;
  /** The entropy (nats) of each row's draft distribution, when known exactly. */
  readonly entropies?: Float32Array;
}

/**
 * A draft model run row by row with its own KV cache: committed rows, then the draft rows of the
 * current round, which the next `commit` discards. Two kinds implement it:
 * - an EAGLE-1/2 feature head: row i pairs token i + 1 with the target's feature i, at position
 *   i, and predicts the next feature (`featureSize` > 0);
 * - a small causal LM with the target's tokenizer: row i is token i at position i
 *   (`featureSize` 0, features ignored).
 */
export interface DraftModel {
  /** Width of a feature row; 0 for models that take no features. */
  readonly featureSize: number;
  /** Size of the token distribution. */
  readonly vocabSize: number;
  /**
   * A model whose `logits` cover a reduced draft vocabulary (FR-Spec, EAGLE-3's `d2t`): column d
   * of a row is the logit of target token `draftTokenIds[d]`, and every other token has draft
   * probability 0. Absent or null: the logits cover the whole vocabulary.
   */
  readonly draftTokenIds?: Int32Array | null;
  /** Most rows the head's context can hold. */
  readonly maxContext: number;
  /** Most rows one `draft` call may take. */
  readonly maxDraftBatch: number;
  /** Committed rows in the cache. */
  readonly committedRows: number;
  /** Draft rows of the current round in the cache, after the committed ones. */
  readonly draftRows: number;
  /** Forgets everything. */
  reset(): void;
  /**
   * Optional, for models that fetch `logits` only on request (EAGLE heads opened with them):
   * whether the steps of the following calls carry them. Drafters that sample their trees ask
   * for them before drafting and top-k drafters do not, so that top-k drafting over a model that
   * can sample copies no logits (a row of 8192 cost 0.06 ms a call on the reference CPU). With
   * `probabilities`, a model that computes their softmax at temperature 1 returns that instead
   * (`DraftModelStep.probabilities`); others return the logits.
   */
  requestLogits?(wanted: boolean, probabilities?: boolean): void;
  /**
   * Optional, for models that also score tokens of the generation's own context (an EAGLE head
   * whose reduced draft vocabulary takes context tokens): notes `tokens[from .. to)`, which belong
   * to the generation's prompt or output. Drafters note every committed token once, the ones a
   * bounded catch-up skips included.
   */
  noteContext?(tokens: Int32Array, from: number, to: number): void;
  /** Optional, with `noteContext`: forgets the noted tokens (a new generation). */
  clearContext?(): void;
  /**
   * Drops the round's draft rows and appends `rows` committed rows: `tokens[r]` with feature row
   * r of `features`, at position `committedRows + r`, causally. Returns the outputs of the newest
   * committed row only (`rows` 1): what follows the newest committed token. The older rows are
   * only cached, so a model need not score them.
   */
  commit(tokens: Int32Array, features: Float32Array, rows: number, k: number): Promise<DraftModelStep>;
  /**
   * Appends `rows` draft rows: `tokens[r]` with feature row r at `positions[r]`, attending as
   * the row-major additive `bias` says (`rows` x (`committedRows + draftRows + rows`)).
   */
  draft(
    tokens: Int32Array,
    features: Float32Array,
    positions: Int32Array,
    bias: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep>;
  /** Releases native resources. */
  dispose?(): Promise<void>;
}
