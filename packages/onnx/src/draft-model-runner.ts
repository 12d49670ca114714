import {
  ContextOverflowError,
  type DraftModel,
  type DraftModelStep,
  OptionError,
  requireInteger,
  writeCausalBias,
} from '@treespec/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { DeviceDraftKvCache } from './device-draft-kv-cache.js';
import { type DraftCacheNames, type DraftKvCache, HostDraftKvCache } from './draft-kv-cache.js';
import { Int64Buffer } from './int64.js';
import { KV_CHUNK_ROWS } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';
import { ScoreRowsFeed } from './score-rows-feed.js';

/** Options shared by the draft-model runners. */
export interface DraftModelRunnerOptions {
  /** Most rows one draft call may take (the widest frontier). */
  maxDraftBatch?: number;
  /** Most draft rows kept between two commits (all rows of one drafting round). Default 256. */
  maxDraftRows?: number;
  /** Committed rows processed per call when catching up on a prompt. Default 128. */
  chunk?: number;
  /** Most candidates per row. Default 32. */
  maxK?: number;
  /** Context window to allocate the KV cache for; at most the model's. Default: the model's. */
  maxContext?: number;
  /**
   * Keep the KV cache as the session's own output tensors, appended by this compaction session
   * (of `compactionModel(layers, kvHeads, headDim, dtype)`, on the draft model's provider): a
   * {@link DeviceDraftKvCache}. With the session's `present_*` and the compaction's outputs
   * preferred on `gpu-buffer` (`draftDeviceCacheSetup`) the cache stays on the GPU. The runner
   * releases the session. Default: a host cache.
   */
  compaction?: InferenceSession;
}

/** What a draft-model runner needs to know of its model: a causal LM's layout without its I/O names. */
export type DraftModelShape = Omit<CausalLmLayout, 'names' | 'attention'>;

/**
 * The row bookkeeping every ONNX {@link DraftModel} shares: a KV cache (committed rows, then room
 * for one round of draft rows; on the host, or on the device given a compaction session),
 * committed rows processed causally in chunks
 * (each scoring its last row only; the last chunk's is the commit's result),
 * draft rows appended under the caller's bias and dropped by the next commit, and preallocated
 * int64 token and position buffers. Subclasses run the model on prepared rows.
 */
export abstract class DraftModelRunner implements DraftModel {
  readonly session: InferenceSession;
  readonly featureSize: number;
  /** Width of a committed row's feature: `featureSize`, or an EAGLE-3 head's captured states. */
  readonly commitFeatureSize: number;
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly maxDraftBatch: number;
  /** A {@link HostDraftKvCache}, or a {@link DeviceDraftKvCache} given a compaction session. */
  readonly cache: DraftKvCache;
  protected readonly maxK: number;
  protected readonly rowsCapacity: number;
  protected readonly ids: Int64Buffer;
  protected readonly positions: Int64Buffer;
  private readonly chunk: number;
  private causalBias: Float32Array;
  /** The graph's `score_rows` feed. */
  protected readonly scoreRows = new ScoreRowsFeed();
  private committed = 0;
  private draftRowCount = 0;
  private disposed = false;

  constructor(
    session: InferenceSession,
    shape: DraftModelShape,
    cacheNames: DraftCacheNames,
    options: DraftModelRunnerOptions,
    defaultBatch: number,
  ) {
    this.session = session;
    this.featureSize = shape.hiddenSize;
    this.commitFeatureSize = shape.featureSize ?? shape.hiddenSize;
    this.vocabSize = shape.vocabSize;
    this.maxContext = requireInteger(
      'maxContext',
      options.maxContext ?? shape.maxContext,
      1,
      shape.maxContext,
    );
    this.maxDraftBatch = requireInteger('maxDraftBatch', options.maxDraftBatch ?? defaultBatch, 1);
    const maxDraftRows = requireInteger('maxDraftRows', options.maxDraftRows ?? 256, 1);
    this.chunk = requireInteger('chunk', options.chunk ?? 128, 1);
    this.maxK = requireInteger('maxK', options.maxK ?? 32, 1, shape.vocabSize);
    if (shape.dtype !== 'float32') {
      throw new OptionError(
        'layout.dtype',
        shape.dtype,
        '"float32" (fp16 activations are not supported by this runner yet)',
      );
    }
    this.rowsCapacity = Math.max(this.maxDraftBatch, this.chunk);
    const { kvHeads, headDim, dtype } = shape;
    const capacity = this.maxContext + maxDraftRows;
    this.cache = options.compaction
      ? new DeviceDraftKvCache(
          options.compaction,
          cacheNames,
          kvHeads,
          headDim,
          capacity,
          dtype,
          this.rowsCapacity,
        )
      : new HostDraftKvCache(cacheNames, kvHeads, headDim, capacity, dtype);
    this.ids = new Int64Buffer(this.rowsCapacity);
    this.positions = new Int64Buffer(this.rowsCapacity);
    this.causalBias = new Float32Array(this.chunk * Math.min(capacity, KV_CHUNK_ROWS));
  }

  get committedRows(): number {
    return this.committed;
  }

  get draftRows(): number {
    return this.draftRowCount;
  }

  /** Where the draft model's cached rows are now (see {@link DraftKvCache.location}). */
  get cacheLocation(): Tensor.DataLocation {
    return this.cache.location;
  }

  reset(): void {
    this.committed = 0;
    this.draftRowCount = 0;
    this.cache.reset();
  }

  async commit(tokens: Int32Array, features: Float32Array, rows: number, k: number): Promise<DraftModelStep> {
    requireInteger('rows', rows, 1);
    this.draftRowCount = 0;
    this.cache.dropDrafts();
    if (this.committed + rows > this.maxContext) {
      throw new ContextOverflowError(this.committed + rows, this.maxContext, 'the draft model');
    }
    let step: DraftModelStep | null = null;
    for (let start = 0; start < rows; start += this.chunk) {
      const n = Math.min(this.chunk, rows - start);
      for (let r = 0; r < n; r++) {
        this.ids.set(r, tokens[start + r]);
        this.positions.set(r, this.committed + r);
      }
      const total = this.committed + n;
      if (n * total > this.causalBias.length)
        this.causalBias = new Float32Array(Math.max(n * total, this.causalBias.length * 2));
      writeCausalBias(this.committed, n, this.causalBias);
      const width = this.commitFeatureSize;
      const rowFeatures = features.subarray(start * width, (start + n) * width);
      step = await this.checkedRun(n, k, rowFeatures, this.causalBias, true);
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
      if (positions[r] >= this.maxContext)
        throw new ContextOverflowError(positions[r] + 1, this.maxContext, 'a draft row of the draft model');
      this.ids.set(r, tokens[r]);
      this.positions.set(r, positions[r]);
    }
    const step = await this.checkedRun(rows, k, features, bias, false);
    this.draftRowCount += rows;
    return step;
  }

  /** Releases the session and the cache; later calls do nothing. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.cache.dispose();
    await this.session.release();
  }

  /**
   * Runs `rows` rows prepared in `ids`/`positions` after the cached ones through the cache (which
   * appends their KV entries, as committed rows when `committed`) and returns outputs: of the last
   * row alone (rows 1) for `committed` rows, of every row for draft rows. `committed` rows carry
   * `commitFeatureSize`-wide features, draft rows `featureSize`-wide ones.
   */
  protected abstract run(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep>;

  private checkedRun(
    rows: number,
    k: number,
    features: Float32Array,
    bias: Float32Array,
    committed: boolean,
  ): Promise<DraftModelStep> {
    requireInteger('k', k, 1, this.maxK);
    const width = this.cache.length + rows;
    if (width > this.cache.capacity)
      throw new ContextOverflowError(width, this.cache.capacity, 'the draft model cache');
    return this.run(rows, k, features, bias, committed);
  }
}
