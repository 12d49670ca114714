import {
  ContextOverflowError,
  ContractError,
  type DraftTree,
  type KeepPlan,
  OptionError,
  type RowSampling,
  requireInteger,
  type TargetCallOptions,
  type TargetModel,
  type TargetStep,
  writeAttentionBias,
  writeCausalBias,
} from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import type { CausalLmCache, RowOutputs } from './causal-lm-cache.js';
import { DeviceKvCache } from './device-kv-cache.js';
import { HeadMajorKvCache } from './head-major-kv-cache.js';
import { HostKvCache } from './host-kv-cache.js';
import { Int64Buffer } from './int64.js';
import { KV_CHUNK_ROWS } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';
import { ScoreRowsFeed } from './score-rows-feed.js';
import { SharedKvCache } from './shared-kv-cache.js';

/** The logits of a greedy or sampling verification, which returns each row's token instead. */
const NO_LOGITS = new Float32Array(0);
/** The uniforms of a call that draws no tokens in the graph. */
const NO_UNIFORMS = new Float32Array(0);

/** Options of {@link OnnxCausalLm}. */
export interface CausalLmRunnerOptions {
  /** Most nodes a verified tree may have. Default 64. */
  maxTreeSize?: number;
  /** Prompt tokens processed per prefill call. Default 128. */
  prefillChunk?: number;
  /** Most rows the KV cache may hold; at most the model's context. Default: the model's. */
  maxContext?: number;
  /**
   * Rows the KV cache allocates first and grows by at least (it doubles up to `maxContext`; an
   * in-place-attention model's cache grows by whole chunks). Default 256.
   */
  cacheChunk?: number;
  /**
   * Keep the KV cache as the session's own output tensors, committed by this compaction session
   * (of `compactionModel(layers, kvHeads, headDim, dtype)`, on the target's provider): a
   * {@link DeviceKvCache}. With the session's `present_*` and the compaction's outputs preferred on
   * `gpu-buffer` the cache stays on the GPU. Plain attention only. The runner releases the session.
   * Default: a host cache.
   */
  compaction?: InferenceSession;
  /**
   * With `compaction`, the session of `logitsCopyModel(vocab)` on the target's provider: where the
   * session's logits are preferred on `gpu-buffer` too (`deviceCacheOutputLocations`), it brings
   * them to the host for the calls that read them. The runner releases it.
   */
  logitsCopy?: InferenceSession;
  /**
   * With `compaction`, the session of `weightsCopyModel(vocab)` on the target's provider: where the
   * session's sampled rows' weights are preferred on `gpu-buffer` too (`deviceCacheOutputLocations`),
   * it brings them to the host for the verifications that read them. The runner releases it.
   */
  weightsCopy?: InferenceSession;
}

/**
 * A treespec causal-LM ONNX model as a {@link TargetModel}: prefill, tree verification under a
 * tree attention bias, feature outputs, and commits of accepted paths into a KV cache that is
 * never copied whole and grows with the rows in use. With plain attention the model returns only
 * the new entries and a commit copies the accepted ones into a {@link HostKvCache}; with fused
 * attention the model writes its new entries into a {@link SharedKvCache} bound as both its past
 * inputs and its present outputs, and a commit moves only the accepted rows that are out of
 * place. Every buffer it feeds is preallocated and passed as a zero-copy view; logits and features
 * are the arrays ONNX Runtime returns. A graph with a `score_rows` input (targets converted since
 * manifest version 3) computes a prefill chunk's logits for its last row only. Given a compaction
 * session (plain attention), the cache is a {@link DeviceKvCache} instead: the model's own output
 * tensors, which stay on a GPU provider's device, committed by that session.
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
   * A {@link HostKvCache} for plain attention, a {@link DeviceKvCache} for plain attention with a
   * compaction session, a {@link SharedKvCache} for fused.
   */
  readonly cache: CausalLmCache;
  private readonly prefillChunk: number;
  private readonly ids: Int64Buffer;
  private readonly positions: Int64Buffer;
  /** The rows whose logits a call computes, for a graph with a `score_rows` input. */
  private readonly scoreRows = new ScoreRowsFeed();
  private bias: Float32Array;
  private readonly visibility: Uint8Array;
  /** The feeds of a call: input ids, position ids and bias here, the past tensors from the cache. */
  private readonly inputs: Record<string, Tensor> = {};
  private logits: Float32Array = new Float32Array(0);
  private features: Float32Array = new Float32Array(0);
  /** The last greedy verification's row outputs (`CausalLmLayout.names.greedy`). */
  private rowTokens: Int32Array = new Int32Array(0);
  private rowLogitSums: Float32Array = new Float32Array(0);
  /** The last weighed verification's rows' softmax weights and their sums (`sampler.weights`, `sampler.mass`). */
  private rowWeights: Float32Array = new Float32Array(0);
  private rowMasses: Float32Array = new Float32Array(0);
  /** The temperature fed to a graph that draws tokens (`CausalLmLayout.names.sampler`). */
  private readonly sampleTemperature = new Float32Array([1]);
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
    const maxRows = Math.max(this.maxTreeSize, this.prefillChunk);
    const { names, kvHeads, headDim, dtype } = layout;
    const chunk = requireInteger('cacheChunk', options.cacheChunk ?? KV_CHUNK_ROWS, 1);
    if (options.compaction && layout.attention !== 'plain') {
      throw new OptionError(
        'compaction',
        'a compaction session',
        `none for ${layout.attention} attention (its cache is read in place on the host; device-resident caches need plain attention)`,
      );
    }
    this.cache =
      layout.attention === 'fused'
        ? new SharedKvCache(names, kvHeads, headDim, this.maxContext, dtype, chunk)
        : layout.attention === 'in-place'
          ? new HeadMajorKvCache(names, kvHeads, headDim, this.maxContext, dtype, chunk)
          : options.compaction
            ? new DeviceKvCache(
                options.compaction,
                names,
                kvHeads,
                headDim,
                this.maxContext,
                dtype,
                maxRows,
                {
                  ...(options.logitsCopy ? { logits: options.logitsCopy } : {}),
                  ...(options.weightsCopy ? { weights: options.weightsCopy } : {}),
                },
              )
            : new HostKvCache(names, kvHeads, headDim, this.maxContext, dtype, chunk);
    this.ids = new Int64Buffer(maxRows);
    this.positions = new Int64Buffer(maxRows);
    this.bias = new Float32Array(maxRows * Math.min(chunk, this.maxContext));
    this.visibility = new Uint8Array(this.maxTreeSize * this.maxTreeSize);
  }

  /** True when the graph computes each row's greedy token and the cache fetches it ({@link TargetModel.greedyTokens}). */
  get greedyTokens(): boolean {
    return this.cache.greedyOutputs;
  }

  /** True when the graph draws each row's token from fed uniforms and the cache fetches it ({@link TargetModel.sampledTokens}). */
  get sampledTokens(): boolean {
    return this.cache.sampledOutputs;
  }

  /**
   * True when the graph also returns each drawn row's softmax weights and their sum, and the cache
   * fetches them ({@link TargetModel.sampleWeights}).
   */
  get sampleWeights(): boolean {
    const sampler = this.layout.names.sampler;
    return this.cache.sampledOutputs && sampler?.weights !== undefined && sampler.mass !== undefined;
  }

  get cachedLength(): number {
    return this.cache.length;
  }

  /** Where the target's cached rows are now (see {@link CausalLmCache.location}). */
  get cacheLocation(): Tensor.DataLocation {
    return this.cache.location;
  }

  reset(): void {
    this.cache.reset();
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
      await this.run(rows, wantFeatures, 'none', null);
      this.cache.commit(null, rows);
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
    const greedy = options?.greedy === true && this.cache.greedyOutputs;
    const sample = !greedy && this.cache.sampledOutputs ? (options?.sample ?? null) : null;
    if (sample && sample.uniforms.length < 2 * rows)
      throw new OptionError(
        'sample.uniforms',
        `${sample.uniforms.length} uniforms`,
        `two per tree node (${2 * rows})`,
      );
    const rowOutputs = this.verifiedRowOutputs(greedy, sample);
    await this.run(rows, wantFeatures, rowOutputs, rowOutputs === 'logits' ? null : sample);
    this.pendingRows = rows;
    const features = wantFeatures ? this.features : null;
    if (greedy)
      return {
        rows,
        logits: NO_LOGITS,
        features,
        greedyTokens: this.rowTokens,
        logitSums: this.rowLogitSums,
      };
    if (rowOutputs === 'sampled' || rowOutputs === 'weights')
      return {
        rows,
        logits: NO_LOGITS,
        features,
        sampledTokens: this.rowTokens,
        logitSums: this.rowLogitSums,
        ...(rowOutputs === 'weights' ? { sampleWeights: this.rowWeights, sampleMasses: this.rowMasses } : {}),
      };
    return { rows, logits: this.logits, features };
  }

  commit(plan: KeepPlan): void {
    if (this.pendingRows === 0) throw new ContractError('commit() needs a verify() first');
    // Null when no kept row moves (`plan.firstMove`): every kept row of the call is in order.
    this.cache.commit(plan.firstMove < plan.count ? plan.slots : null, plan.count);
    this.pendingRows = 0;
  }

  /**
   * What a verification reads of its rows: greedy tokens, drawn tokens, drawn tokens with the
   * rows' weights (asked for where the tokens alone do not decide), or, where the model lacks
   * what was asked, the logits.
   */
  private verifiedRowOutputs(greedy: boolean, sample: RowSampling | null): RowOutputs {
    if (greedy) return 'greedy';
    if (!sample) return 'logits';
    if (sample.weights !== true) return 'sampled';
    return this.sampleWeights ? 'weights' : 'logits';
  }

  /** Releases the session; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.cache.dispose();
    await this.session.release();
  }

  /**
   * Writes the bias of `rows` new rows after the cache's fed past rows (causal, or the tree's),
   * growing its buffer; the fed rows from `cached` on, which a cache fed whole holds unused, are
   * masked.
   */
  private writeBias(tree: DraftTree | null, cached: number, rows: number): void {
    const past = this.cache.pastRows;
    const size = rows * (past + rows);
    if (size > this.bias.length) this.bias = new Float32Array(Math.max(size, this.bias.length * 2));
    if (tree) writeAttentionBias(tree, past, this.bias, this.visibility, cached);
    else writeCausalBias(past, rows, this.bias, cached);
  }

  /**
   * Runs `rows` prepared rows after the cached ones through the cache and keeps references to the
   * row outputs asked for (a prefill leaves them out where the cache can) and the features. A graph
   * that draws tokens is fed `sample`'s uniforms for the call's rows, or none.
   */
  private async run(
    rows: number,
    wantFeatures: boolean,
    rowOutputs: RowOutputs,
    sample: RowSampling | null,
  ): Promise<void> {
    const { names } = this.layout;
    const { inputs } = this;
    const width = this.cache.pastRows + rows;
    inputs[names.inputIds] = new Tensor('int64', this.ids.values.subarray(0, rows), [1, rows]);
    inputs[names.positionIds] = new Tensor('int64', this.positions.values.subarray(0, rows), [1, rows]);
    inputs[names.attentionBias] = new Tensor('float32', this.bias.subarray(0, rows * width), [
      1,
      1,
      rows,
      width,
    ]);
    // A prefill reads no row's logits: its lm_head covers the last row only (a graph cannot slice
    // none away), where a verification's covers every row.
    this.scoreRows.feed(inputs, names.scoreRows, rows, rowOutputs === 'none' ? 1 : rows);
    if (names.sampler) {
      if (sample) this.sampleTemperature[0] = sample.temperature;
      const uniforms = sample ? sample.uniforms.subarray(0, 2 * rows) : NO_UNIFORMS;
      inputs[names.sampler.uniforms] = new Tensor('float32', uniforms, [uniforms.length / 2, 2]);
      inputs[names.sampler.temperature] = new Tensor('float32', this.sampleTemperature, [1]);
    }
    const out = await this.cache.run(this.session, inputs, rows, rowOutputs, wantFeatures);
    if (rowOutputs === 'logits') this.logits = out[names.logits]!.data as Float32Array;
    if (rowOutputs === 'greedy' && names.greedy) {
      this.rowTokens = out[names.greedy.token]!.data as Int32Array;
      this.rowLogitSums = out[names.greedy.logitSum]!.data as Float32Array;
    }
    if ((rowOutputs === 'sampled' || rowOutputs === 'weights') && names.sampler && names.greedy) {
      this.rowTokens = out[names.sampler.token]!.data as Int32Array;
      this.rowLogitSums = out[names.greedy.logitSum]!.data as Float32Array;
    }
    if (rowOutputs === 'weights' && names.sampler?.weights && names.sampler.mass) {
      this.rowWeights = out[names.sampler.weights]!.data as Float32Array;
      this.rowMasses = out[names.sampler.mass]!.data as Float32Array;
    }
    if (wantFeatures) this.features = out[names.feature]!.data as Float32Array;
  }
}
