import type { DraftModelStep } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { HeadRunner, type HeadRunnerOptions } from './head-runner.js';
import type { Eagle3HeadLayout } from './model-layout.js';

/** Options of {@link OnnxEagle3Head}; the widest draft call defaults to 64 rows. */
export type Eagle3HeadRunnerOptions = HeadRunnerOptions;

/**
 * A treespec EAGLE-3 head ONNX model as a {@link DraftModel}. Committed rows pair token i + 1 with
 * the target's captured states of row i (`capturedFeatureSize` wide, fused by the head's `fc`);
 * draft rows carry the head's own hidden state of the row that proposed them (`featureSize` wide).
 * The graph returns each scored row's (a commit's newest, every draft row) hidden state and its
 * top-k log-probabilities over the draft vocabulary with the ids already mapped to target ids;
 * with the `logits` option, also their logits over the draft vocabulary, whose target ids are
 * `draftTokenIds` (for sampled trees).
 */
export class OnnxEagle3Head extends HeadRunner {
  readonly layout: Eagle3HeadLayout;
  /** Width of a committed row's captured target states. */
  readonly capturedFeatureSize: number;
  private readonly noFedRows: Tensor;
  private readonly noDraftRows: Tensor;

  constructor(session: InferenceSession, layout: Eagle3HeadLayout, options: Eagle3HeadRunnerOptions = {}) {
    super(session, { ...layout, layers: 1, featureSize: layout.capturedSize }, layout, options);
    this.layout = layout;
    this.capturedFeatureSize = layout.capturedSize;
    this.noFedRows = new Tensor('float32', new Float32Array(0), [1, 0, layout.capturedSize]);
    this.noDraftRows = new Tensor('float32', new Float32Array(0), [1, 0, layout.hiddenSize]);
  }

  protected run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep> {
    const { names } = this.layout;
    const size = committed ? this.capturedFeatureSize : this.featureSize;
    const rowsTensor = new Tensor('float32', features.subarray(0, rows * size), [1, rows, size]);
    return this.runHead(rows, committed, k, bias, {
      [names.feature]: committed ? rowsTensor : this.noFedRows,
      [names.draftHidden]: committed ? this.noDraftRows : rowsTensor,
    });
  }
}
