import type { DraftModelStep } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { DraftModelRunner, type DraftModelRunnerOptions } from './draft-model-runner.js';
import { Int64Buffer } from './int64.js';
import type { KvArray } from './kv-cache.js';
import type { EagleHeadLayout } from './model-layout.js';

/** Options of {@link OnnxEagleHead}; the widest draft call defaults to 64 rows. */
export type EagleHeadRunnerOptions = DraftModelRunnerOptions;

/**
 * A treespec EAGLE-1/2 head ONNX model as a {@link DraftModel}: row i pairs token i + 1 with the
 * target's feature i; the graph returns each row's predicted next feature and its top-k
 * log-probabilities (through the target's lm_head, in-graph TopK).
 */
export class OnnxEagleHead extends DraftModelRunner {
  readonly layout: EagleHeadLayout;
  private readonly topK = new Int64Buffer(1);
  private readonly topTokens: Int32Array;
  private readonly fetchNames: string[];

  constructor(session: InferenceSession, layout: EagleHeadLayout, options: EagleHeadRunnerOptions = {}) {
    super(session, { ...layout, layers: 1 }, options, 64);
    this.layout = layout;
    this.topTokens = new Int32Array(this.rowsCapacity * this.maxK);
    const { names } = layout;
    this.fetchNames = [names.hidden, names.topLogProbs, names.topIds, names.presentKey, names.presentValue];
  }

  protected async run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
  ): Promise<DraftModelStep> {
    const { layout, cache } = this;
    const { names } = layout;
    const past = cache.length;
    const width = past + rows;
    this.topK.set(0, k);
    const feeds: Record<string, Tensor> = {
      [names.inputIds]: new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]),
      [names.feature]: new Tensor('float32', features.subarray(0, rows * this.featureSize), [
        1,
        rows,
        this.featureSize,
      ]),
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
