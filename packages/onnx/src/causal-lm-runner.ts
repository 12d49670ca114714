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
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import { causalLmFeeds } from './causal-lm-feeds.js';
import { DeviceKvCache } from './device-kv-cache.js';
import { Int64Buffer } from './int64.js';
import { KV_CHUNK_ROWS, type KvArray, KvCache } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';
import { SharedKvCache, type TensorClass } from './shared-kv-cache.js';

/** Options of {@link OnnxCausalLm}. */
export interface CausalLmRunnerOptions {
  /** Most nodes a verified tree may have. Default 64. */
  maxTreeSize?: number;
  /** Prompt tokens processed per prefill call. Default 128. */
  prefillChunk?: number;
  /** Most rows the KV cache may hold; at most the model's context. Default: the model's. */
  maxContext?: number;
  /** Rows the KV cache allocates first and grows by at least (it doubles up to `maxContext`). Default 256. */
  cacheChunk?: number;
  /**
   * Keep the KV cache as the session's own output tensors, committed by this compaction session
   * (of `compactionModel(layers, kvHeads, headDim, dtype)`, on the target's provider): a
   * {@link DeviceKvCache}. With the session's `present_*` and the compaction's outputs preferred on
   * `gpu-buffer` the cache stays on the GPU. Plain attention only. The runner releases the session.
   * Default: a host cache.
   */
  compaction?: InferenceSession;
}

/**
 * A treespec causal-LM ONNX model as a {@link TargetModel}: prefill, tree verification under a
 * tree attention bias, feature outputs, and commits of accepted paths into a KV cache that is
 * never copied whole and grows with the rows in use. With plain attention the model returns only
 * the new entries and a commit copies the accepted ones into a {@link KvCache}; with fused
 * attention the model writes its new entries into a {@link SharedKvCache} bound as both its past
 * inputs and its present outputs, and a commit moves only the accepted rows that are out of
 * place. Every buffer it feeds is preallocated and passed as a zero-copy view; logits and features
 * are the arrays ONNX Runtime returns. Given a compaction session (plain attention), the cache is
 * a {@link DeviceKvCache} instead: the model's own output tensors, which stay on a GPU provider's
 * device, committed by that session.
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
  /**
   * A {@link KvCache} for plain attention, a {@link DeviceKvCache} for plain attention with a
   * compaction session, a {@link SharedKvCache} for fused.
   */
  readonly cache: KvCache | SharedKvCache | DeviceKvCache;
  private readonly prefillChunk: number;
  private readonly maxRows: number;
  private readonly ids: Int64Buffer;
  private readonly positions: Int64Buffer;
  private bias: Float32Array;
  private readonly visibility: Uint8Array;
  private readonly newKeys: KvArray[];
  private readonly newValues: KvArray[];
  /** A device cache's new-entry outputs of the last call. */
  private readonly deviceKeys: Tensor[];
  private readonly deviceValues: Tensor[];
  /** Plain attention's fetches: verify needs the logits, a prefill only the cache (and features). */
  private readonly fetchNames: string[];
  private readonly fetchNamesWithFeature: string[];
  private readonly prefillFetchNames: string[];
  private readonly prefillFetchNamesWithFeature: string[];
  /**
   * A device cache's fetches: every output. With outputs preferred on the device, onnxruntime-node
   * 1.30 failed a verification after prefills that had left the logits out ("Tensor size
   * mismatch").
   */
  private readonly allFetchNames: readonly string[];
  /** Fused attention: the cache tensors as feeds and as preallocated outputs, rebound on growth. */
  private readonly boundFeeds: Record<string, Tensor> = {};
  private readonly boundFetches: Record<string, Tensor | null> = {};
  private readonly boundFetchesWithFeature: Record<string, Tensor | null> = {};
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
    const { layers, kvHeads, headDim, dtype } = layout;
    const chunk = requireInteger('cacheChunk', options.cacheChunk ?? KV_CHUNK_ROWS, 1);
    if (options.compaction && layout.attention === 'fused') {
      throw new OptionError(
        'compaction',
        'a compaction session',
        'none for fused attention (its cache is shared in place; device-resident caches need plain attention)',
      );
    }
    this.cache =
      layout.attention === 'fused'
        ? new SharedKvCache(layers, kvHeads, headDim, this.maxContext, dtype, chunk)
        : options.compaction
          ? new DeviceKvCache(
              options.compaction,
              layers,
              kvHeads,
              headDim,
              this.maxContext,
              dtype,
              this.maxRows,
            )
          : new KvCache(layers, kvHeads, headDim, this.maxContext, dtype, chunk);
    this.ids = new Int64Buffer(this.maxRows);
    this.positions = new Int64Buffer(this.maxRows);
    const biasColumns =
      this.cache instanceof DeviceKvCache ? Math.min(chunk, this.maxContext) : this.cache.allocatedRows;
    this.bias = new Float32Array(this.maxRows * biasColumns);
    this.visibility = new Uint8Array(this.maxTreeSize * this.maxTreeSize);
    this.newKeys = new Array<KvArray>(layout.layers);
    this.newValues = new Array<KvArray>(layout.layers);
    this.deviceKeys = new Array<Tensor>(layout.layers);
    this.deviceValues = new Array<Tensor>(layout.layers);
    const { names } = layout;
    this.prefillFetchNames = [...names.presentKeys, ...names.presentValues];
    this.prefillFetchNamesWithFeature = [...this.prefillFetchNames, names.feature];
    this.fetchNames = [names.logits, ...this.prefillFetchNames];
    this.fetchNamesWithFeature = [...this.fetchNames, names.feature];
    this.allFetchNames = session.outputNames;
    this.boundFetches[names.logits] = null;
    this.boundFetchesWithFeature[names.logits] = null;
    this.boundFetchesWithFeature[names.feature] = null;
    if (this.cache instanceof SharedKvCache) this.bindCache(this.cache);
  }

  get cachedLength(): number {
    return this.cache.length;
  }

  reset(): void {
    if (this.cache instanceof DeviceKvCache) this.cache.reset();
    else this.cache.length = 0;
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
      this.writeBias(null, past, rows);
      await this.run(rows, wantFeatures, false);
      const { cache } = this;
      if (cache instanceof DeviceKvCache) cache.commit(null, rows);
      else {
        if (cache instanceof KvCache)
          for (let l = 0; l < this.layout.layers; l++)
            cache.writeRows(l, this.newKeys[l], this.newValues[l], null, rows, past);
        cache.length = past + rows;
      }
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
    this.writeBias(tree, past, rows);
    const wantFeatures = options?.features === true;
    await this.run(rows, wantFeatures, true);
    this.pendingRows = rows;
    return {
      rows,
      logits: this.logits,
      features: wantFeatures ? this.features : null,
    };
  }

  commit(plan: KeepPlan): void {
    if (this.pendingRows === 0) throw new ContractError('commit() needs a verify() first');
    const { cache } = this;
    const at = cache.length;
    if (cache instanceof SharedKvCache) {
      cache.keep(plan.slots, plan.count, at);
    } else if (cache instanceof DeviceKvCache) {
      cache.commit(plan.slots, plan.count);
    } else {
      for (let l = 0; l < this.layout.layers; l++)
        cache.writeRows(l, this.newKeys[l], this.newValues[l], plan.slots, plan.count, at);
      cache.length = at + plan.count;
    }
    this.pendingRows = 0;
  }

  /** Releases the session; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.cache instanceof DeviceKvCache) await this.cache.dispose();
    await this.session.release();
  }

  /** Writes the bias of `rows` new rows after `past` cached ones (causal, or the tree's), growing its buffer. */
  private writeBias(tree: DraftTree | null, past: number, rows: number): void {
    const size = rows * (past + rows);
    if (size > this.bias.length) this.bias = new Float32Array(Math.max(size, this.bias.length * 2));
    if (tree) writeAttentionBias(tree, past, this.bias, this.visibility);
    else writeCausalBias(past, rows, this.bias);
  }

  /**
   * Runs `rows` prepared rows after the cached ones and keeps references to the outputs. A
   * prefill (`wantLogits` false) leaves the logits unfetched with plain attention, so the binding
   * does not copy `rows × vocab` floats nobody reads.
   */
  private async run(rows: number, wantFeatures: boolean, wantLogits: boolean): Promise<void> {
    const { layout, cache } = this;
    const { names } = layout;
    if (cache instanceof SharedKvCache) {
      if (cache.reserve(cache.length + rows)) this.bindCache(cache);
      const feeds = this.boundFeeds;
      const width = cache.length + rows;
      feeds[names.inputIds] = new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]);
      feeds[names.positionIds] = new Tensor('int64', this.positions.values.subarray(0, rows), [1, rows]);
      feeds[names.attentionBias] = new Tensor('float32', this.bias.subarray(0, rows * width), [
        1,
        1,
        rows,
        width,
      ]);
      const fetches = wantFeatures ? this.boundFetchesWithFeature : this.boundFetches;
      let out = await this.session.run(feeds, fetches);
      if (out[names.presentKeys[0]!] === undefined) {
        // The session ignored outputs bound with another copy of the Tensor class, so the model
        // wrote this call's rows elsewhere: rebind with the session's own class and run again.
        cache.useTensorClass(out[names.logits]!.constructor as TensorClass);
        this.bindCache(cache);
        out = await this.session.run(feeds, fetches);
        if (out[names.presentKeys[0]!] === undefined)
          throw new ContractError(
            'the session did not accept the KV cache as its preallocated present outputs',
          );
      }
      this.logits = out[names.logits].data as Float32Array;
      if (wantFeatures) this.features = out[names.feature].data as Float32Array;
      return;
    }
    if (cache instanceof DeviceKvCache) {
      await this.runOnDeviceCache(cache, rows, wantFeatures);
      return;
    }
    const feeds = causalLmFeeds(layout, cache, this.ids, this.positions, this.bias, rows);
    const fetches = wantLogits
      ? wantFeatures
        ? this.fetchNamesWithFeature
        : this.fetchNames
      : wantFeatures
        ? this.prefillFetchNamesWithFeature
        : this.prefillFetchNames;
    const out = await this.session.run(feeds, fetches);
    if (wantLogits) this.logits = out[names.logits].data as Float32Array;
    if (wantFeatures) this.features = out[names.feature].data as Float32Array;
    for (let l = 0; l < layout.layers; l++) {
      this.newKeys[l] = out[names.presentKeys[l]].data as KvArray;
      this.newValues[l] = out[names.presentValues[l]].data as KvArray;
    }
  }

  /**
   * Runs `rows` prepared rows after a {@link DeviceKvCache}'s rows (once its running commit is
   * done) and holds the new entries for the next commit. Every output is fetched (see
   * `allFetchNames`), a prefill's logits too; logits and features are expected on the host (their
   * preferred location stays `cpu`).
   */
  private async runOnDeviceCache(cache: DeviceKvCache, rows: number, wantFeatures: boolean): Promise<void> {
    await cache.ready();
    const { layout } = this;
    const { names } = layout;
    const feeds = causalLmFeeds(layout, cache, this.ids, this.positions, this.bias, rows);
    const out = await this.session.run(feeds, this.allFetchNames);
    this.logits = out[names.logits]!.data as Float32Array;
    if (wantFeatures) this.features = out[names.feature]!.data as Float32Array;
    for (let l = 0; l < layout.layers; l++) {
      this.deviceKeys[l] = out[names.presentKeys[l]!]!;
      this.deviceValues[l] = out[names.presentValues[l]!]!;
    }
    cache.hold(this.deviceKeys, this.deviceValues);
  }

  /** Points the fused model's past inputs and present outputs at the shared cache's tensors. */
  private bindCache(cache: SharedKvCache): void {
    const { names } = this.layout;
    for (let l = 0; l < this.layout.layers; l++) {
      const key = cache.keyTensors[l]!;
      const value = cache.valueTensors[l]!;
      this.boundFeeds[names.pastKeys[l]!] = key;
      this.boundFeeds[names.pastValues[l]!] = value;
      for (const fetches of [this.boundFetches, this.boundFetchesWithFeature]) {
        fetches[names.presentKeys[l]!] = key;
        fetches[names.presentValues[l]!] = value;
      }
    }
  }
}
