import { ContextOverflowError } from '@treespec/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { type CacheNames, type CausalLmCache, NewEntries, type RowOutputs } from './causal-lm-cache.js';
import { HeadMajorBuffers } from './head-major-buffers.js';
import { KV_CHUNK_ROWS, type KvArray, type KvDtype } from './kv-cache.js';

/**
 * Rows to hold after growing to fit `needed`: `needed` rounded up to whole chunks, at most
 * `capacity`. A cache fed whole grows by chunks rather than doubling, so the rows every call reads
 * stay within a chunk of the rows in use; a growth copies the cache once, O(length / chunk) rows
 * per row added.
 * @throws ContextOverflowError when `needed` exceeds `capacity`.
 */
export function chunkedRows(needed: number, capacity: number, chunk: number): number {
  if (needed > capacity) throw new ContextOverflowError(needed, capacity, 'the KV cache');
  return Math.min(capacity, Math.ceil(Math.max(needed, 1) / chunk) * chunk);
}

/**
 * The KV cache of an in-place-attention treespec target (`attention: 'in-place'`): per layer one
 * key and one value buffer, head-major `[1, kvHeads, allocatedRows, headDim]`, fed whole to every
 * call as the same tensors, so that the model reads each KV head's rows where they lie and no call
 * copies the cache. The caller's bias masks the rows past `length` ({@link pastRows}). A call's
 * new entries (the model's `[1, kvHeads, N, headDim]` outputs) wait for a commit, which copies the
 * accepted rows after the cached ones head by head: O(rows kept) per call. Memory grows in whole
 * chunks of {@link KV_CHUNK_ROWS} up to `capacity` ({@link chunkedRows}).
 */
export class HeadMajorKvCache extends HeadMajorBuffers implements CausalLmCache {
  readonly location = 'cpu' as const;
  readonly greedyOutputs: boolean;
  readonly sampledOutputs: boolean;
  private readonly names: CacheNames;
  private readonly entries: NewEntries;

  constructor(
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    super(names.pastKeys.length, kvHeads, headDim, capacity, dtype, chunk, chunkedRows(0, capacity, chunk));
    this.names = names;
    this.entries = new NewEntries(names);
    this.greedyOutputs = this.entries.greedyOutputs;
    this.sampledOutputs = this.entries.sampledOutputs;
  }

  /** Every allocated row is fed; the bias must mask those from `length` on. */
  get pastRows(): number {
    return this.allocated;
  }

  /** Layer `layer`'s key buffer, `[kvHeads, allocatedRows, headDim]` (replaced when the cache grows). */
  keys(layer: number): KvArray {
    return this.keyTensors[layer]!.data as KvArray;
  }

  /** Layer `layer`'s value buffer. */
  values(layer: number): KvArray {
    return this.valueTensors[layer]!.data as KvArray;
  }

  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    this.feedBuffers(inputs, this.names.pastKeys, this.names.pastValues);
    return this.entries.run(session, inputs, rows, rowOutputs, features);
  }

  commit(slots: Int32Array | null, count: number): void {
    const at = this.length;
    this.reserve(at + count);
    const d = this.headDim;
    const stride = this.allocated * d;
    const newStride = this.entries.rows * d;
    for (let l = 0; l < this.layers; l++) {
      const keys = this.keys(l);
      const values = this.values(l);
      const newKeys = this.entries.keys[l]!;
      const newValues = this.entries.values[l]!;
      for (let h = 0; h < this.kvHeads; h++) {
        for (let k = 0; k < count; k++) {
          const src = h * newStride + (slots ? slots[k]! : k) * d;
          const dst = h * stride + (at + k) * d;
          for (let j = 0; j < d; j++) {
            keys[dst + j] = newKeys[src + j]!;
            values[dst + j] = newValues[src + j]!;
          }
        }
      }
    }
    this.length = at + count;
  }

  /**
   * Makes room for `rows` rows in all (growing by whole chunks); returns true when it grew.
   * @throws ContextOverflowError when `rows` exceeds the capacity.
   */
  reserve(rows: number): boolean {
    if (rows <= this.allocated) return false;
    this.resize(chunkedRows(rows, this.capacity, this.chunk), true);
    return true;
  }

  /**
   * Empties the cache and gives back all but one chunk: every call reads the whole buffer, so a
   * long generation's rows must not stay behind for the short ones after it.
   */
  reset(): void {
    this.length = 0;
    const rows = chunkedRows(0, this.capacity, this.chunk);
    if (this.allocated !== rows) this.resize(rows, false);
  }

  async dispose(): Promise<void> {}
}
