import { ContractError, type DraftModelStep, OptionError } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { ContextTokenFeed } from './context-token-feed.js';
import {
  DraftModelRunner,
  type DraftModelRunnerOptions,
  type DraftModelShape,
} from './draft-model-runner.js';
import { Int64Buffer, readInt64s } from './int64.js';
import type { EagleHeadLayout } from './model-layout.js';

/** Options of the EAGLE heads' runners; the widest draft call defaults to 64 rows. */
export interface HeadRunnerOptions extends DraftModelRunnerOptions {
  /**
   * Make each scored row's `logits` available, which sampled draft trees are drawn from; default
   * false. They are then fetched while requested ({@link HeadRunner.requestLogits}, on from the
   * start), so that top-k drafting copies none. A head over a reduced draft vocabulary returns them
   * over its draft tokens (see `draftTokenIds`), which needs a manifest that records their target
   * ids.
   */
  logits?: boolean;
}

/**
 * What the EAGLE heads' runners share: the head's one-layer cache, the in-graph top-k, and the
 * step each call returns (hidden states, top-k log-probabilities and their target token ids). A
 * commit scores its newest row only (the graph's `score_rows` input, or the last row of a head
 * converted before it, which scores every row); a draft call scores every row. A subclass gives
 * the feature inputs of its rows. With the `logits` option the step also carries each scored
 * row's logits: over the target vocabulary, or over the draft vocabulary of a head that has one
 * (FR-Spec, EAGLE-3), whose target ids are `draftTokenIds`.
 */
export abstract class HeadRunner extends DraftModelRunner {
  private readonly names: EagleHeadLayout['names'];
  private readonly topK = new Int64Buffer(1);
  private readonly topTokens: Int32Array;
  private readonly fetchNames: string[];
  /** `fetchNames` and the logits. */
  private readonly fetchNamesWithLogits: string[];
  /** `fetchNames` and the draft probabilities; null for a head converted without them. */
  private readonly fetchNamesWithProbabilities: string[] | null;
  /** Whether the head was opened with the `logits` option. */
  private readonly canFetchLogits: boolean;
  /** Whether the next calls fetch the logits ({@link HeadRunner.requestLogits}). */
  private fetchesLogits: boolean;
  /** Whether they fetch the draft probabilities in place of the logits. */
  private fetchesProbabilities = false;
  /** Width of a row of `logits`: the draft vocabulary's size, or the whole vocabulary's. */
  private readonly logitsWidth: number;
  /** Target ids of the draft vocabulary a reduced head's `logits` cover; null over the whole vocabulary. */
  readonly draftTokenIds: Int32Array | null;
  /** The context tokens a head with `contextTokens` scores beside its draft vocabulary; null for other heads. */
  private readonly context: ContextTokenFeed | null;

  protected constructor(
    session: InferenceSession,
    shape: DraftModelShape,
    layout: Pick<EagleHeadLayout, 'names' | 'draftVocabSize' | 'draftTokenIds' | 'contextTokens'>,
    options: HeadRunnerOptions,
  ) {
    const { names, draftVocabSize, draftTokenIds, contextTokens } = layout;
    super(
      session,
      shape,
      {
        pastKeys: [names.pastKey],
        pastValues: [names.pastValue],
        presentKeys: [names.presentKey],
        presentValues: [names.presentValue],
        ...(names.cache ? { cache: { keys: [names.cache.key], values: [names.cache.value] } } : {}),
      },
      options,
      64,
    );
    this.names = names;
    this.canFetchLogits = options.logits ?? false;
    this.fetchesLogits = this.canFetchLogits;
    if (this.canFetchLogits && draftVocabSize !== null && draftTokenIds?.length !== draftVocabSize) {
      throw new OptionError(
        'logits',
        true,
        `a head whose manifest records the target ids of its ${draftVocabSize} draft tokens ` +
          '(draftVocab.targetIds), which sampling over a reduced draft vocabulary needs; ' +
          'this bundle was converted before they were recorded: convert the head again',
      );
    }
    this.draftTokenIds = draftVocabSize === null ? null : draftTokenIds;
    this.context =
      contextTokens > 0 && names.contextIds !== null && draftTokenIds !== null
        ? new ContextTokenFeed(contextTokens, shape.vocabSize, draftTokenIds)
        : null;
    this.logitsWidth = draftVocabSize ?? shape.vocabSize;
    this.topTokens = new Int32Array(this.rowsCapacity * this.maxK);
    this.fetchNames = [
      ...(names.stepOutputs ? [names.stepOutputs] : [names.hidden, names.topLogProbs, names.topIds]),
      names.presentKey,
      names.presentValue,
    ];
    this.fetchNamesWithLogits = [...this.fetchNames, names.logits];
    this.fetchNamesWithProbabilities = names.draftProbabilities
      ? [...this.fetchNames, names.draftProbabilities]
      : null;
  }

  /** Context tokens listed for the head to score beside its draft vocabulary (0 for a head without them). */
  get contextTokenCount(): number {
    return this.context?.size ?? 0;
  }

  /**
   * Notes tokens of the generation's context (prompt and output): a head with `contextTokens`
   * scores each one outside its draft vocabulary from its next call on; other heads ignore them.
   */
  noteContext(tokens: Int32Array, from: number, to: number): void {
    this.context?.note(tokens, from, to);
  }

  /** Forgets the noted context (a new generation). */
  clearContext(): void {
    this.context?.clear();
  }

  /**
   * Whether the next calls fetch `logits`; only a head opened with the `logits` option can. With
   * `probabilities`, a head converted with its draft probabilities fetches their softmax instead
   * (`DraftModelStep.probabilities`).
   */
  requestLogits(wanted: boolean, probabilities = false): void {
    this.fetchesLogits = wanted && this.canFetchLogits;
    this.fetchesProbabilities =
      this.fetchesLogits && probabilities && this.fetchNamesWithProbabilities !== null;
  }

  /**
   * The scored rows' draft probabilities from row `first` of the fetched output: over the draft
   * tokens, and for a head with context tokens over those listed too, whose target ids it gives.
   */
  private probabilities(
    data: Float32Array,
    first: number,
  ): { probabilities: Float32Array; probabilityIds?: Int32Array } {
    if (!this.context) return { probabilities: data.subarray(first * this.logitsWidth) };
    const columns = this.context.columns();
    return { probabilities: data.subarray(first * columns.length), probabilityIds: columns };
  }

  /**
   * Runs the head on `rows` rows fed `featureFeeds`, keeps their cache rows and returns the step:
   * of the last row alone for `committed` rows, of every row for draft rows.
   */
  protected async runHead(
    rows: number,
    committed: boolean,
    k: number,
    bias: Float32Array,
    featureFeeds: Record<string, Tensor>,
  ): Promise<DraftModelStep> {
    const { names, cache } = this;
    const past = cache.length;
    const width = past + rows;
    const scored = committed ? 1 : rows;
    this.topK.set(0, k);
    const feeds: Record<string, Tensor> = {
      ...featureFeeds,
      [names.inputIds]: new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]),
      [names.positionIds]: new Tensor('int64', this.positions.values.subarray(0, rows), [1, rows]),
      [names.attentionBias]: new Tensor('float32', bias.subarray(0, rows * width), [1, 1, rows, width]),
      [names.topK]: new Tensor('int64', this.topK.values, [1]),
    };
    if (this.context) this.context.feed(feeds, names.contextIds!);
    const first = this.scoreRows.feed(feeds, names.scoreRows, rows, scored);
    const fetches = this.fetchesProbabilities
      ? (this.fetchNamesWithProbabilities as string[])
      : this.fetchesLogits
        ? this.fetchNamesWithLogits
        : this.fetchNames;
    const out = await cache.run(this.session, feeds, fetches, rows, committed);
    const distribution = this.fetchesProbabilities
      ? this.probabilities(out[names.draftProbabilities as string].data as Float32Array, first)
      : this.fetchesLogits
        ? { logits: (out[names.logits].data as Float32Array).subarray(first * this.logitsWidth) }
        : {};
    if (names.stepOutputs) {
      const step = out[names.stepOutputs].data as Float32Array;
      const width = this.featureSize;
      if (step.length !== scored * (width + 2 * k))
        throw new ContractError(
          `expected ${names.stepOutputs} to hold ${scored * (width + 2 * k)} values (${scored} scored rows × ${width} hidden values, ${k} log-probabilities and ${k} ids); found ${step.length}`,
        );
      const ids = scored * (width + k);
      for (let i = 0; i < scored * k; i++) this.topTokens[i] = step[ids + i];
      return {
        rows: scored,
        hidden: step.subarray(0, scored * width),
        topLogProbs: step.subarray(scored * width, ids),
        topTokens: this.topTokens,
        k,
        ...distribution,
      };
    }
    readInt64s(out[names.topIds].data as BigInt64Array, first * k, scored * k, this.topTokens);
    return {
      rows: scored,
      hidden: (out[names.hidden].data as Float32Array).subarray(first * this.featureSize),
      topLogProbs: (out[names.topLogProbs].data as Float32Array).subarray(first * k),
      topTokens: this.topTokens,
      k,
      ...distribution,
    };
  }
}
