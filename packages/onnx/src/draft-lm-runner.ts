import {
  ContextOverflowError,
  type DraftModel,
  type DraftModelStep,
  OptionError,
  requireInteger,
  topK,
  writeCausalBias,
} from '@treespec/core';
import type { InferenceSession } from 'onnxruntime-common';
import { causalLmFeeds } from './causal-lm-feeds.js';
import { Int64Buffer } from './int64.js';
import { type KvArray, KvCache } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

const NO_FEATURES = new Float32Array(0);

/** Options of {@link OnnxDraftLm}. */
export interface DraftLmRunnerOptions {
  /** Most rows one draft call may take (the widest frontier). Default 16. */
  maxDraftBatch?: number;
  /** Most draft rows kept between two commits (all rows of one drafting round). Default 256. */
  maxDraftRows?: number;
  /** Committed tokens processed per call when catching up on a prompt. Default 128. */
  chunk?: number;
  /** Most candidates per row. Default 32. */
  maxK?: number;
  /** Context window to allocate the KV cache for; at most the model's. Default: the model's. */
  maxContext?: number;
}

/**
 * A small causal LM (same tokenizer as the target) as a {@link DraftModel}: row i is token i at
 * position i. Its KV cache holds the committed tokens, then the current round's draft rows.
 * Each call returns, per row, the full logits, the top-k log-probabilities and the exact
 * entropy of the next-token distribution (computed here, in preallocated buffers).
 */
export class OnnxDraftLm implements DraftModel {
  readonly session: InferenceSession;
  private disposed = false;
  readonly layout: CausalLmLayout;
  readonly hiddenSize = 0;
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly maxDraftBatch: number;
  readonly cache: KvCache;
  private readonly chunk: number;
  private readonly maxK: number;
  private readonly ids: Int64Buffer;
  private readonly positions: Int64Buffer;
  private readonly causalBias: Float32Array;
  private readonly topTokens: Int32Array;
  private readonly topLogProbs: Float32Array;
  private readonly entropies: Float32Array;
  private readonly index: Int32Array;
  private readonly value: Float32Array;
  private readonly fetchNames: string[];
  private committed = 0;
  private draftRowCount = 0;

  constructor(session: InferenceSession, layout: CausalLmLayout, options: DraftLmRunnerOptions = {}) {
    this.session = session;
    this.layout = layout;
    this.vocabSize = layout.vocabSize;
    this.maxContext = requireInteger(
      'maxContext',
      options.maxContext ?? layout.maxContext,
      1,
      layout.maxContext,
    );
    this.maxDraftBatch = requireInteger('maxDraftBatch', options.maxDraftBatch ?? 16, 1);
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
    const rows = Math.max(this.maxDraftBatch, this.chunk);
    this.cache = new KvCache(
      layout.layers,
      layout.kvHeads,
      layout.headDim,
      this.maxContext + maxDraftRows,
      layout.dtype,
    );
    this.ids = new Int64Buffer(rows);
    this.positions = new Int64Buffer(rows);
    this.causalBias = new Float32Array(this.chunk * this.cache.capacity);
    this.topTokens = new Int32Array(rows * this.maxK);
    this.topLogProbs = new Float32Array(rows * this.maxK);
    this.entropies = new Float32Array(rows);
    this.index = new Int32Array(this.maxK);
    this.value = new Float32Array(this.maxK);
    const { names } = layout;
    this.fetchNames = [names.logits, ...names.presentKeys, ...names.presentValues];
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

  async commit(
    tokens: Int32Array,
    _features: Float32Array,
    rows: number,
    k: number,
  ): Promise<DraftModelStep> {
    requireInteger('rows', rows, 1);
    this.draftRowCount = 0;
    this.cache.length = this.committed;
    if (this.committed + rows > this.maxContext) {
      throw new ContextOverflowError(this.committed + rows, this.maxContext, 'the draft LM');
    }
    let step: DraftModelStep | null = null;
    for (let start = 0; start < rows; start += this.chunk) {
      const n = Math.min(this.chunk, rows - start);
      for (let r = 0; r < n; r++) {
        this.ids.set(r, tokens[start + r]);
        this.positions.set(r, this.committed + r);
      }
      writeCausalBias(this.committed, n, this.causalBias);
      step = await this.run(n, k, this.causalBias);
      this.committed += n;
    }
    return step as DraftModelStep;
  }

  async draft(
    tokens: Int32Array,
    _features: Float32Array,
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
    const step = await this.run(rows, k, bias);
    this.draftRowCount += rows;
    return step;
  }

  /** Releases the session; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }

  private async run(rows: number, k: number, bias: Float32Array): Promise<DraftModelStep> {
    requireInteger('k', k, 1, this.maxK);
    const { layout, cache } = this;
    const past = cache.length;
    if (past + rows > cache.capacity)
      throw new ContextOverflowError(past + rows, cache.capacity, 'the draft LM cache');
    const feeds = causalLmFeeds(layout, cache, this.ids, this.positions, bias, rows);
    const out = await this.session.run(feeds, this.fetchNames);
    for (let l = 0; l < layout.layers; l++) {
      const keys = out[layout.names.presentKeys[l]].data as KvArray;
      const values = out[layout.names.presentValues[l]].data as KvArray;
      cache.writeRows(l, keys, values, null, rows, past);
    }
    cache.length = past + rows;
    const logits = out[layout.names.logits].data as Float32Array;
    this.summarise(logits, rows, k);
    return {
      rows,
      hidden: NO_FEATURES,
      topLogProbs: this.topLogProbs,
      topTokens: this.topTokens,
      k,
      logits,
      entropies: this.entropies,
    };
  }

  /** Per row: log-softmax top-k and the exact entropy. */
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
        const e = Math.exp(z);
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
