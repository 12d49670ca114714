import { type DraftModel, type DraftModelStep, logSumExp, topK } from '@treespec/core';
import type { ToyLanguageModel } from '@treespec/core/testing';

/**
 * A DraftModel over the toy model that checks how it is driven: each draft row must see every
 * committed row, a contiguous chain of earlier rows up to its own position, and get as feature
 * the hidden state of the row right before it. Its prediction is the toy model's next-token
 * distribution given the tokens it sees, so driven correctly it drafts perfectly.
 */
export class ToyDraftHead implements DraftModel {
  readonly featureSize: number;
  readonly vocabSize: number;
  readonly maxContext = 4096;
  readonly maxDraftBatch = 64;
  private tokens: number[] = [];
  private positions: number[] = [];
  private hiddenIds: number[] = [];
  private committed = 0;
  private nextHiddenId = 1;
  private readonly logits: Float64Array;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  draftCalls = 0;
  /**
   * Unset: it always returns logits; a test may set it to see what its drafters ask for. With the
   * `probabilities` option it records every request in `requests` and answers a request for
   * probabilities with them in place of the logits.
   */
  requestLogits?: (wanted: boolean, probabilities?: boolean) => void;
  /** With the `probabilities` option: every `requestLogits` call's arguments. */
  readonly requests: Array<[boolean, boolean]> = [];
  private probabilitiesAsked = false;

  /**
   * `featureSize` 0 makes it a draft LM (rows are the committed tokens themselves, no features);
   * `probabilities` makes it compute the softmax of its logits when asked, as a converted head does.
   */
  constructor(
    private readonly model: ToyLanguageModel,
    options: { featureSize?: number; probabilities?: boolean } = {},
  ) {
    if (options.probabilities) {
      this.requestLogits = (wanted, probabilities = false) => {
        this.requests.push([wanted, probabilities]);
        this.probabilitiesAsked = wanted && probabilities;
      };
    }
    this.featureSize = options.featureSize ?? 4;
    this.vocabSize = model.vocabSize;
    this.logits = new Float64Array(model.vocabSize);
    this.idx = new Int32Array(model.vocabSize);
    this.val = new Float64Array(model.vocabSize);
  }

  get committedRows(): number {
    return this.committed;
  }
  get draftRows(): number {
    return this.tokens.length - this.committed;
  }

  reset(): void {
    this.tokens = [];
    this.positions = [];
    this.hiddenIds = [];
    this.committed = 0;
  }

  async commit(
    tokens: Int32Array,
    _features: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    this.tokens.length = this.positions.length = this.hiddenIds.length = this.committed;
    const out = this.outputs(1, k);
    for (let r = 0; r < rows; r++) {
      this.push(tokens[r], this.committed);
      this.committed++;
      this.predict(this.tokens, 0, out);
    }
    return out;
  }

  async draft(
    tokens: Int32Array,
    features: Float32Array,
    positions: Int32Array,
    bias: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    this.draftCalls++;
    const before = this.tokens.length;
    const width = before + rows;
    const out = this.outputs(rows, k);
    for (let j = 0; j < rows; j++) {
      const visible: number[] = [];
      for (let c = 0; c < width; c++) {
        const seen = bias[j * width + c] === 0;
        if (c < this.committed && !seen) throw new Error(`draft row ${j} does not see committed row ${c}`);
        if (c >= before && c !== before + j && seen)
          throw new Error(`draft row ${j} sees its sibling row ${c - before}`);
        if (c === before + j && !seen) throw new Error(`draft row ${j} does not see itself`);
        if (seen && c < before) visible.push(c);
      }
      visible.sort((a, b) => this.positions[a] - this.positions[b]);
      visible.forEach((row, i) => {
        if (this.positions[row] !== i)
          throw new Error(`draft row ${j} sees position ${this.positions[row]} at rank ${i}`);
      });
      if (positions[j] !== visible.length)
        throw new Error(`draft row ${j} is at position ${positions[j]}, expected ${visible.length}`);
      const parent = visible[visible.length - 1];
      if (this.featureSize > 0 && features[j * this.featureSize] !== this.hiddenIds[parent]) {
        throw new Error(
          `draft row ${j} got the feature of hidden ${features[j * this.featureSize]}, expected ${this.hiddenIds[parent]}`,
        );
      }
      const seq = [...visible.map((row) => this.tokens[row]), tokens[j]];
      this.predict(seq, j, out);
    }
    for (let j = 0; j < rows; j++) this.push(tokens[j], positions[j]);
    for (let j = 0; j < rows; j++) this.hiddenIds[before + j] = out.hidden[j * this.featureSize];
    return out;
  }

  private push(token: number, position: number): void {
    this.tokens.push(token);
    this.positions.push(position);
    this.hiddenIds.push(0);
  }

  private outputs(rows: number, k: number) {
    const distributions = new Float32Array(rows * this.vocabSize);
    return {
      rows,
      hidden: new Float32Array(rows * this.featureSize),
      topLogProbs: new Float32Array(rows * k),
      topTokens: new Int32Array(rows * k),
      k,
      logits: this.probabilitiesAsked ? new Float32Array(0) : distributions,
      ...(this.probabilitiesAsked ? { probabilities: distributions } : {}),
    };
  }

  /** Writes row `r`'s outputs: the toy model's top-k after `seq`, and a fresh hidden id. */
  private predict(
    seq: number[],
    r: number,
    out: DraftModelStep & { hidden: Float32Array; logits: Float32Array },
  ): void {
    const id = this.nextHiddenId++;
    if (this.featureSize > 0) out.hidden[r * this.featureSize] = id;
    if (seq === this.tokens) this.hiddenIds[this.tokens.length - 1] = id;
    const length = seq === this.tokens ? this.tokens.length : seq.length;
    this.model.logits(seq, length, this.logits, 0);
    const lse = logSumExp(this.logits, 0, this.vocabSize);
    if (this.probabilitiesAsked) {
      const probabilities = out.probabilities as Float32Array;
      for (let t = 0; t < this.vocabSize; t++)
        probabilities[r * this.vocabSize + t] = Math.exp(this.logits[t] - lse);
    } else out.logits.set(this.logits, r * this.vocabSize);
    const n = topK(this.logits, 0, this.vocabSize, out.k, this.idx, this.val);
    for (let i = 0; i < n; i++) {
      out.topTokens[r * out.k + i] = this.idx[i];
      out.topLogProbs[r * out.k + i] = this.val[i] - lse;
    }
  }
}

/** A {@link ToyDraftHead} that records how many rows each commit fed it. */
export class RecordingHead extends ToyDraftHead {
  readonly commits: number[] = [];
  override commit(
    tokens: Int32Array,
    features: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    this.commits.push(rows);
    return super.commit(tokens, features, rows, k);
  }
}
