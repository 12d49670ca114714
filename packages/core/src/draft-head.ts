/** What a draft head call returns; the arrays stay valid until the head's next call. */
export interface DraftHeadStep {
  /** Rows processed. */
  readonly rows: number;
  /** Predicted next feature of each row, `rows` x `hiddenSize` (EAGLE feeds it back to child rows). */
  readonly hidden: Float32Array;
  /** Top-`k` draft log-probabilities of each row, best first, `rows` x `k`. */
  readonly topLogProbs: Float32Array;
  /** Their token ids, `rows` x `k`. */
  readonly topTokens: Int32Array;
  /** Candidates per row. */
  readonly k: number;
}

/**
 * A feature-level draft head (EAGLE-1/2): a small network that reads the target's hidden state
 * and a token, and predicts the next hidden state and token distribution. It keeps a KV cache of
 * committed rows (row i pairs token i + 1 with the target's feature i, at position i) followed
 * by the draft rows of the current round, which the next `commit` discards.
 */
export interface DraftHead {
  /** Width of a feature row. */
  readonly hiddenSize: number;
  /** Size of the token distribution. */
  readonly vocabSize: number;
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
   * Drops the round's draft rows and appends `rows` committed rows: `tokens[r]` with feature row
   * r of `features`, at position `committedRows + r`, causally. The last row's outputs predict
   * what follows the newest committed token.
   */
  commit(tokens: Int32Array, features: Float32Array, rows: number, k: number): Promise<DraftHeadStep>;
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
  ): Promise<DraftHeadStep>;
  /** Releases native resources. */
  dispose?(): Promise<void>;
}
