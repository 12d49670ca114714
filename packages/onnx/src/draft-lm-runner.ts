import { type DraftModelStep, expNonPositive, ModelFormatError, topK } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { DraftModelRunner, type DraftModelRunnerOptions } from './draft-model-runner.js';
import { Int64Buffer, readInt64s } from './int64.js';
import { newEntryOutputs } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

const NO_FEATURES = new Float32Array(0);

/** Options of {@link OnnxDraftLm}; the widest draft call defaults to 16 rows. */
export type DraftLmRunnerOptions = DraftModelRunnerOptions;

/**
 * A small causal LM (same tokenizer as the target) as a {@link DraftModel}: row i is token i at
 * position i. Each call returns, per scored row (a commit's newest, every draft row), the top-k
 * log-probabilities, the exact entropy of the next-token distribution and, as asked
 * ({@link OnnxDraftLm.requestLogits}; the logits until then), the logits or their softmax. A model
 * converted with them computes the top-k, entropy and softmax in its graph
 * (`CausalLmLayout.names.draftSummary`); for an older one they are computed here from the
 * logits, in preallocated buffers, and every call fetches the logits.
 */
export class OnnxDraftLm extends DraftModelRunner {
  readonly layout: CausalLmLayout;
  private readonly topTokens: Int32Array;
  private readonly topLogProbs: Float32Array;
  private readonly entropies: Float32Array;
  private readonly index: Int32Array;
  private readonly value: Float32Array;
  /** Fetches of a model without an in-graph summary: the logits and the cache outputs. */
  private readonly fetchNames: string[];
  /**
   * Fetches of a model with one: its top-k and entropy, then the cache outputs, with nothing else,
   * the logits or the softmax (`draftSummary`).
   */
  private readonly summaryFetches: { none: string[]; logits: string[]; probabilities: string[] } | null;
  private readonly topK = new Int64Buffer(1);
  /** Whether the next calls fetch the logits (a model without an in-graph summary always does). */
  private fetchesLogits = true;
  /** Whether they fetch the in-graph softmax instead. */
  private fetchesProbabilities = false;

  constructor(session: InferenceSession, layout: CausalLmLayout, options: DraftLmRunnerOptions = {}) {
    if (layout.attention !== 'plain') {
      throw new ModelFormatError(
        `a draft LM must use plain attention (its runner reads a bsnh cache); found "${layout.attention}": convert it with attention "plain"`,
        { file: 'draft model' },
      );
    }
    super(session, { ...layout, hiddenSize: 0 }, layout.names, options, 16);
    this.layout = layout;
    this.topTokens = new Int32Array(this.rowsCapacity * this.maxK);
    this.topLogProbs = new Float32Array(this.rowsCapacity * this.maxK);
    this.entropies = new Float32Array(this.rowsCapacity);
    this.index = new Int32Array(this.maxK);
    this.value = new Float32Array(this.maxK);
    const { names } = layout;
    // A host cache reads the packed new entries where the model has them (a device cache fetches
    // what it keeps whatever these say).
    const cacheFetches = newEntryOutputs(names);
    this.fetchNames = [names.logits, ...cacheFetches];
    const summary = names.draftSummary;
    const summarised = summary ? [summary.topLogProbs, summary.topIds, summary.entropy] : [];
    this.summaryFetches = summary
      ? {
          none: [...summarised, ...cacheFetches],
          logits: [...summarised, names.logits, ...cacheFetches],
          probabilities: [...summarised, summary.probabilities, ...cacheFetches],
        }
      : null;
  }

  /**
   * Whether the next calls return the logits (`wanted`), or, with `probabilities`, their softmax
   * where the model computes it. A model converted before its graph computed the top-k returns
   * the logits whatever is asked: its top-k is taken from them here.
   */
  requestLogits(wanted: boolean, probabilities = false): void {
    if (!this.layout.names.draftSummary) return;
    this.fetchesLogits = wanted && !probabilities;
    this.fetchesProbabilities = wanted && probabilities;
  }

  protected async run(
    rows: number,
    k: number,
    _features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep> {
    const { layout, cache } = this;
    const { names } = layout;
    const width = cache.length + rows;
    const scored = committed ? 1 : rows;
    const feeds: Record<string, Tensor> = {
      [names.inputIds]: new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]),
      [names.positionIds]: new Tensor('int64', this.positions.values.subarray(0, rows), [1, rows]),
      [names.attentionBias]: new Tensor('float32', bias.subarray(0, rows * width), [1, 1, rows, width]),
    };
    const first = this.scoreRows.feed(feeds, names.scoreRows, rows, scored);
    const summary = names.draftSummary;
    if (summary) return this.runSummarised(feeds, summary, rows, scored, k, committed);
    const out = await cache.run(this.session, feeds, this.fetchNames, rows, committed);
    const logits = (out[names.logits].data as Float32Array).subarray(first * this.vocabSize);
    this.summarise(logits, scored, k);
    return {
      rows: scored,
      hidden: NO_FEATURES,
      topLogProbs: this.topLogProbs,
      topTokens: this.topTokens,
      k,
      logits,
      entropies: this.entropies,
    };
  }

  /** {@link OnnxDraftLm.run} of a model whose graph computes the top-k, entropy and softmax. */
  private async runSummarised(
    feeds: Record<string, Tensor>,
    summary: NonNullable<CausalLmLayout['names']['draftSummary']>,
    rows: number,
    scored: number,
    k: number,
    committed: boolean,
  ): Promise<DraftModelStep> {
    const { names } = this.layout;
    this.topK.set(0, k);
    feeds[summary.topK] = new Tensor('int64', this.topK.values, [1]);
    const lists = this.summaryFetches!;
    const fetches = this.fetchesProbabilities
      ? lists.probabilities
      : this.fetchesLogits
        ? lists.logits
        : lists.none;
    const out = await this.cache.run(this.session, feeds, fetches, rows, committed);
    readInt64s(out[summary.topIds].data as BigInt64Array, 0, scored * k, this.topTokens);
    return {
      rows: scored,
      hidden: NO_FEATURES,
      topLogProbs: out[summary.topLogProbs].data as Float32Array,
      topTokens: this.topTokens,
      k,
      entropies: out[summary.entropy].data as Float32Array,
      ...(this.fetchesProbabilities
        ? { probabilities: out[summary.probabilities].data as Float32Array }
        : this.fetchesLogits
          ? { logits: out[names.logits].data as Float32Array }
          : {}),
    };
  }

  /** Per row of `logits`, the first `rows`: log-softmax top-k and the exact entropy. */
  private summarise(logits: Float32Array, rows: number, k: number): void {
    const vocab = this.vocabSize;
    for (let r = 0; r < rows; r++) {
      const offset = r * vocab;
      let max = -Infinity;
      for (let i = 0; i < vocab; i++) if (logits[offset + i] > max) max = logits[offset + i];
      let sum = 0;
      let weighted = 0;
      for (let i = 0; i < vocab; i++) {
        const z = logits[offset + i] - max;
        const e = expNonPositive(z);
        sum += e;
        weighted += e * z;
      }
      const logSum = Math.log(sum);
      this.entropies[r] = logSum - weighted / sum;
      const n = topK(logits, offset, vocab, k, this.index, this.value);
      for (let j = 0; j < n; j++) {
        this.topTokens[r * k + j] = this.index[j];
        this.topLogProbs[r * k + j] = this.value[j] - max - logSum;
      }
    }
  }
}
