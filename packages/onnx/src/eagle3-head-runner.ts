import type { DraftModelStep } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { DraftModelRunner, type DraftModelRunnerOptions } from './draft-model-runner.js';
import { Int64Buffer } from './int64.js';
import type { KvArray } from './kv-cache.js';
import type { Eagle3HeadLayout } from './model-layout.js';

/** Options of {@link OnnxEagle3Head}; the widest draft call defaults to 64 rows. */
export type Eagle3HeadRunnerOptions = DraftModelRunnerOptions;

/**
 * A treespec EAGLE-3 head ONNX model as a {@link DraftModel}. Committed rows pair token i + 1 with
 * the target's captured states of row i (`capturedFeatureSize` wide, fused by the head's `fc`);
 * draft rows carry the head's own hidden state of the row that proposed them (`featureSize` wide).
 * The graph returns each row's hidden state and its top-k log-probabilities over the draft
 * vocabulary with the ids already mapped to target ids.
 */
export class OnnxEagle3Head extends DraftModelRunner {
  readonly layout: Eagle3HeadLayout;
  /** Width of a committed row's captured target states. */
  readonly capturedFeatureSize: number;
  private readonly topK = new Int64Buffer(1);
  private readonly topTokens: Int32Array;
  private readonly fetchNames: string[];
  private readonly noFedRows: Tensor;
  private readonly noDraftRows: Tensor;

  constructor(session: InferenceSession, layout: Eagle3HeadLayout, options: Eagle3HeadRunnerOptions = {}) {
    super(session, { ...layout, layers: 1, featureSize: layout.capturedSize }, options, 64);
    this.layout = layout;
    this.capturedFeatureSize = layout.capturedSize;
    this.topTokens = new Int32Array(this.rowsCapacity * this.maxK);
    const { names } = layout;
    this.fetchNames = [names.hidden, names.topLogProbs, names.topIds, names.presentKey, names.presentValue];
    this.noFedRows = new Tensor('float32', new Float32Array(0), [1, 0, layout.capturedSize]);
    this.noDraftRows = new Tensor('float32', new Float32Array(0), [1, 0, layout.hiddenSize]);
  }

  protected async run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep> {
    const { layout, cache } = this;
    const { names } = layout;
    const past = cache.length;
    const width = past + rows;
    this.topK.set(0, k);
    const size = committed ? this.capturedFeatureSize : this.featureSize;
    const rowsTensor = new Tensor('float32', features.subarray(0, rows * size), [1, rows, size]);
    const feeds: Record<string, Tensor> = {
      [names.inputIds]: new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]),
      [names.feature]: committed ? rowsTensor : this.noFedRows,
      [names.draftHidden]: committed ? this.noDraftRows : rowsTensor,
      [names.positionIds]: new Tensor('int64', this.positions.values.subarray(0, rows), [1, rows]),
      [names.attentionBias]: new Tensor('float32', bias.subarray(0, rows * width), [1, 1, rows, width]),
      [names.pastKey]: cache.keyTensor(0, past),
      [names.pastValue]: cache.valueTensor(0, past),
      [names.topK]: new Tensor('int64', this.topK.values, [1]),
    };
    const out = await this.session.run(feeds, this.fetchNames);
    cache.writeRows(
      0,
      out[names.presentKey].data as KvArray,
      out[names.presentValue].data as KvArray,
      null,
      rows,
      past,
    );
    cache.length = width;
    const ids = out[names.topIds].data as BigInt64Array;
    const words = new Int32Array(ids.buffer, ids.byteOffset, ids.length * 2);
    for (let i = 0; i < rows * k; i++) this.topTokens[i] = words[2 * i];
    return {
      rows,
      hidden: out[names.hidden].data as Float32Array,
      topLogProbs: out[names.topLogProbs].data as Float32Array,
      topTokens: this.topTokens,
      k,
    };
  }
}
