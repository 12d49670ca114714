import {
  ContextOverflowError,
  ContractError,
  type DraftTree,
  type KeepPlan,
  OptionError,
  requireInteger,
  type TargetCallOptions,
  type TargetModel,
  type TargetStep,
  writeAttentionBias,
  writeCausalBias,
} from '@treespec/core';
import type { InferenceSession } from 'onnxruntime-common';
import { causalLmFeeds } from './causal-lm-feeds.js';
import { Int64Buffer } from './int64.js';
import { type KvArray, KvCache } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

/** Options of {@link OnnxCausalLm}. */
export interface CausalLmRunnerOptions {
  /** Most nodes a verified tree may have. Default 64. */
  maxTreeSize?: number;
  /** Prompt tokens processed per prefill call. Default 128. */
  prefillChunk?: number;
  /** Context window to allocate the KV cache for; at most the model's. Default: the model's. */
  maxContext?: number;
}

/**
 * A treespec causal-LM ONNX model as a {@link TargetModel}: prefill, tree verification under a
 * tree attention bias, feature outputs, and commits of accepted paths into a KV cache that is
 * allocated once and never copied whole (the model returns only the new entries; a commit copies
 * the accepted ones). Every buffer it feeds is preallocated and passed as a zero-copy view; the
 * outputs are the arrays ONNX Runtime returns (its bindings copy them out of the session anyway).
 *
 * Written against onnxruntime-common, so the same runner serves onnxruntime-node and
 * onnxruntime-web sessions.
 */
export class OnnxCausalLm implements TargetModel {
  readonly session: InferenceSession;
  private disposed = false;
  readonly layout: CausalLmLayout;
  readonly vocabSize: number;
  readonly featureSize: number;
  readonly maxContext: number;
  readonly maxTreeSize: number;
  readonly cache: KvCache;
  private readonly prefillChunk: number;
  private readonly maxRows: number;
  private readonly ids: Int64Buffer;
  private readonly positions: Int64Buffer;
  private readonly bias: Float32Array;
  private readonly visibility: Uint8Array;
  private readonly newKeys: KvArray[];
  private readonly newValues: KvArray[];
  private readonly fetchNames: string[];
  private readonly fetchNamesWithFeature: string[];
  private logits: Float32Array = new Float32Array(0);
  private features: Float32Array = new Float32Array(0);
  private pendingRows = 0;

  constructor(session: InferenceSession, layout: CausalLmLayout, options: CausalLmRunnerOptions = {}) {
    this.session = session;
    this.layout = layout;
    this.vocabSize = layout.vocabSize;
    this.featureSize = layout.featureSize ?? layout.hiddenSize;
    this.maxContext = requireInteger(
      'maxContext',
      options.maxContext ?? layout.maxContext,
      1,
      layout.maxContext,
    );
    this.maxTreeSize = requireInteger('maxTreeSize', options.maxTreeSize ?? 64, 1, this.maxContext);
    this.prefillChunk = requireInteger(
      'prefillChunk',
      options.prefillChunk ?? Math.min(128, this.maxContext),
      1,
      this.maxContext,
    );
    if (layout.dtype !== 'float32') {
      throw new OptionError(
        'layout.dtype',
        layout.dtype,
        '"float32" (fp16 activations are not supported by this runner yet)',
      );
    }
    this.maxRows = Math.max(this.maxTreeSize, this.prefillChunk);
    this.cache = new KvCache(layout.layers, layout.kvHeads, layout.headDim, this.maxContext, layout.dtype);
    this.ids = new Int64Buffer(this.maxRows);
    this.positions = new Int64Buffer(this.maxRows);
    this.bias = new Float32Array(this.maxRows * this.maxContext);
    this.visibility = new Uint8Array(this.maxTreeSize * this.maxTreeSize);
    this.newKeys = new Array<KvArray>(layout.layers);
    this.newValues = new Array<KvArray>(layout.layers);
    const { names } = layout;
    this.fetchNames = [names.logits, ...names.presentKeys, ...names.presentValues];
    this.fetchNamesWithFeature = [...this.fetchNames, names.feature];
  }

  get cachedLength(): number {
    return this.cache.length;
  }

  reset(): void {
    this.cache.length = 0;
    this.pendingRows = 0;
  }

  async prefill(tokens: Int32Array, options?: TargetCallOptions): Promise<TargetStep> {
    const total = tokens.length;
    if (this.cache.length + total > this.maxContext) {
      throw new ContextOverflowError(
        this.cache.length + total,
        this.maxContext,
        `a prefill of ${total} tokens`,
      );
    }
    const wantFeatures = options?.features === true;
    const features = wantFeatures ? new Float32Array(total * this.featureSize) : null;
    let start = 0;
    for (; start < total; start += this.prefillChunk) {
      if (options?.signal?.aborted) break;
      const rows = Math.min(this.prefillChunk, total - start);
      const past = this.cache.length;
      for (let i = 0; i < rows; i++) {
        this.ids.set(i, tokens[start + i]);
        this.positions.set(i, past + i);
      }
      writeCausalBias(past, rows, this.bias);
      await this.run(rows, wantFeatures);
      for (let l = 0; l < this.layout.layers; l++)
        this.cache.writeRows(l, this.newKeys[l], this.newValues[l], null, rows, past);
      this.cache.length = past + rows;
      features?.set(this.features.subarray(0, rows * this.featureSize), start * this.featureSize);
    }
    this.pendingRows = 0;
    return { rows: Math.min(start, total), logits: new Float32Array(0), features };
  }

  async verify(tree: DraftTree, options?: TargetCallOptions): Promise<TargetStep> {
    const rows = tree.size;
    const past = this.cache.length;
    if (rows > this.maxTreeSize) {
      throw new OptionError('tree.size', rows, `at most maxTreeSize (${this.maxTreeSize}) for this runner`);
    }
    if (past + rows > this.maxContext) {
      throw new ContextOverflowError(
        past + rows,
        this.maxContext,
        `a tree of ${rows} nodes after ${past} tokens`,
      );
    }
    for (let i = 0; i < rows; i++) {
      this.ids.set(i, tree.tokens[i]);
      this.positions.set(i, past + tree.depths[i]);
    }
    writeAttentionBias(tree, past, this.bias, this.visibility);
    const wantFeatures = options?.features === true;
    await this.run(rows, wantFeatures);
    this.pendingRows = rows;
    return {
      rows,
      logits: this.logits,
      features: wantFeatures ? this.features : null,
    };
  }

  commit(plan: KeepPlan): void {
    if (this.pendingRows === 0) throw new ContractError('commit() needs a verify() first');
    const at = this.cache.length;
    for (let l = 0; l < this.layout.layers; l++) {
      this.cache.writeRows(l, this.newKeys[l], this.newValues[l], plan.slots, plan.count, at);
    }
    this.cache.length = at + plan.count;
    this.pendingRows = 0;
  }

  /** Releases the session; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }

  /** Runs `rows` prepared rows after the cached ones and keeps references to the outputs. */
  private async run(rows: number, wantFeatures: boolean): Promise<void> {
    const { layout } = this;
    const { names } = layout;
    const feeds = causalLmFeeds(layout, this.cache, this.ids, this.positions, this.bias, rows);
    const out = await this.session.run(feeds, wantFeatures ? this.fetchNamesWithFeature : this.fetchNames);
    this.logits = out[names.logits].data as Float32Array;
    if (wantFeatures) this.features = out[names.feature].data as Float32Array;
    for (let l = 0; l < layout.layers; l++) {
      this.newKeys[l] = out[names.presentKeys[l]].data as KvArray;
      this.newValues[l] = out[names.presentValues[l]].data as KvArray;
    }
  }
}
