import {
  ContextOverflowError,
  type DraftModel,
  type DraftModelStep,
  OptionError,
  requireInteger,
  writeCausalBias,
} from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { Int64Buffer } from './int64.js';
import { type KvArray, KvCache } from './kv-cache.js';
import type { EagleHeadLayout } from './model-layout.js';

/** Options of {@link OnnxEagleHead}. */
export interface EagleHeadRunnerOptions {
  /** Most rows one draft call may take (the widest frontier). Default 64. */
  maxDraftBatch?: number;
  /** Most draft rows kept between two commits (all rows of one drafting round). Default 256. */
  maxDraftRows?: number;
  /** Committed rows processed per call when catching up on a prompt. Default 128. */
  chunk?: number;
  /** Most candidates per row. Default 32. */
  maxK?: number;
  /** Context window to allocate the KV cache for; at most the model's. Default: the model's. */
  maxContext?: number;
}

/**
 * A treespec EAGLE-1/2 head ONNX model as a {@link DraftModel}. The KV cache is allocated once
 * (committed rows, then room for one round of draft rows) and updated row by row from the
 * model's new-entry outputs; inputs are written into preallocated buffers and passed as
 * zero-copy views.
 */
export class OnnxEagleHead implements DraftModel {
  readonly session: InferenceSession;
  private disposed = false;
  readonly layout: EagleHeadLayout;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly maxDraftBatch: number;
  readonly cache: KvCache;
  private readonly chunk: number;
  private readonly maxK: number;
  private readonly rowsCapacity: number;
  private readonly ids: Int64Buffer;
  private readonly positions: Int64Buffer;
  private readonly causalBias: Float32Array;
  private readonly topK = new Int64Buffer(1);
  private readonly topTokens: Int32Array;
  private readonly fetchNames: string[];
  private committed = 0;
  private draftRowCount = 0;

  constructor(session: InferenceSession, layout: EagleHeadLayout, options: EagleHeadRunnerOptions = {}) {
    this.session = session;
    this.layout = layout;
    this.hiddenSize = layout.hiddenSize;
    this.vocabSize = layout.vocabSize;
    this.maxContext = requireInteger(
      'maxContext',
      options.maxContext ?? layout.maxContext,
      1,
      layout.maxContext,
    );
    this.maxDraftBatch = requireInteger('maxDraftBatch', options.maxDraftBatch ?? 64, 1);
    const maxDraftRows = requireInteger('maxDraftRows', options.maxDraftRows ?? 256, 1);
    this.chunk = requireInteger('chunk', options.chunk ?? 128, 1);
    this.maxK = requireInteger('maxK', options.maxK ?? 32, 1, layout.vocabSize);
    if (layout.dtype !== 'float32') {
      throw new OptionError(
        'layout.dtype',
        layout.dtype,
        '"float32" (fp16 activations are not supported by this runner yet)',
      );
    }
    this.rowsCapacity = Math.max(this.maxDraftBatch, this.chunk);
    this.cache = new KvCache(1, layout.kvHeads, layout.headDim, this.maxContext + maxDraftRows, layout.dtype);
    this.ids = new Int64Buffer(this.rowsCapacity);
    this.positions = new Int64Buffer(this.rowsCapacity);
    this.causalBias = new Float32Array(this.chunk * this.cache.capacity);
    this.topTokens = new Int32Array(this.rowsCapacity * this.maxK);
    const { names } = layout;
    this.fetchNames = [names.hidden, names.topLogProbs, names.topIds, names.presentKey, names.presentValue];
  }

  get committedRows(): number {
    return this.committed;
  }

  get draftRows(): number {
    return this.draftRowCount;
  }

  reset(): void {
    this.committed = 0;
    this.draftRowCount = 0;
    this.cache.length = 0;
  }

  async commit(tokens: Int32Array, features: Float32Array, rows: number, k: number): Promise<DraftModelStep> {
    requireInteger('rows', rows, 1);
    this.draftRowCount = 0;
    this.cache.length = this.committed;
    if (this.committed + rows > this.maxContext) {
      throw new ContextOverflowError(this.committed + rows, this.maxContext, 'the draft head');
    }
    let step: DraftModelStep | null = null;
    for (let start = 0; start < rows; start += this.chunk) {
      const n = Math.min(this.chunk, rows - start);
      for (let r = 0; r < n; r++) {
        this.ids.set(r, tokens[start + r]);
        this.positions.set(r, this.committed + r);
      }
      writeCausalBias(this.committed, n, this.causalBias);
      const rowFeatures = features.subarray(start * this.hiddenSize, (start + n) * this.hiddenSize);
      step = await this.run(n, k, rowFeatures, this.causalBias);
      this.committed += n;
    }
    return step as DraftModelStep;
  }

  async draft(
    tokens: Int32Array,
    features: Float32Array,
    positions: Int32Array,
    bias: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    requireInteger('rows', rows, 1, this.maxDraftBatch);
    for (let r = 0; r < rows; r++) {
      this.ids.set(r, tokens[r]);
      this.positions.set(r, positions[r]);
    }
    const step = await this.run(rows, k, features, bias);
    this.draftRowCount += rows;
    return step;
  }

  /** Releases the session; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }

  private async run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
  ): Promise<DraftModelStep> {
    requireInteger('k', k, 1, this.maxK);
    const { layout, cache } = this;
    const { names } = layout;
    const past = cache.length;
    const width = past + rows;
    if (width > cache.capacity) throw new ContextOverflowError(width, cache.capacity, 'the draft head cache');
    this.topK.set(0, k);
    const feeds: Record<string, Tensor> = {
      [names.inputIds]: new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]),
      [names.feature]: new Tensor('float32', features.subarray(0, rows * this.hiddenSize), [
        1,
        rows,
        this.hiddenSize,
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
