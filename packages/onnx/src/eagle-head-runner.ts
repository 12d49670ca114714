import type { DraftModelStep } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { HeadRunner, type HeadRunnerOptions } from './head-runner.js';
import type { EagleHeadLayout } from './model-layout.js';

/** Options of {@link OnnxEagleHead}; the widest draft call defaults to 64 rows. */
export type EagleHeadRunnerOptions = HeadRunnerOptions;

/**
 * A treespec EAGLE-1/2 head ONNX model as a {@link DraftModel}: row i pairs token i + 1 with the
 * target's feature i; the graph returns each scored row's predicted next feature and its top-k
 * log-probabilities (through the target's lm_head, in-graph TopK): a commit's newest row, every
 * draft row. With the `logits` option the step also carries those rows' logits, for sampled trees.
 */
export class OnnxEagleHead extends HeadRunner {
  readonly layout: EagleHeadLayout;

  constructor(session: InferenceSession, layout: EagleHeadLayout, options: EagleHeadRunnerOptions = {}) {
    super(session, { ...layout, layers: 1 }, layout, options);
    this.layout = layout;
  }

  protected run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep> {
    const size = this.featureSize;
    return this.runHead(rows, committed, k, bias, {
      [this.layout.names.feature]: new Tensor('float32', features.subarray(0, rows * size), [1, rows, size]),
    });
  }
}
