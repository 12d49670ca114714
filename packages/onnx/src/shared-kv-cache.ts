import { ContractError } from '@treespec/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames, CausalLmCache, RowOutputs } from './causal-lm-cache.js';
import { HeadMajorBuffers, type TensorClass } from './head-major-buffers.js';
import { grownRows, KV_CHUNK_ROWS, type KvArray, type KvDtype } from './kv-cache.js';

/**
 * The KV cache of a fused-attention treespec model (`kvCache.present` `shared`): per layer one key
 * and one value buffer in the head-major layout `[1, kvHeads, rows, headDim]`, passed to the model
 * as `past_*` and bound as its preallocated `present_*` outputs, so ONNX Runtime's
 * GroupQueryAttention reads the cached rows in place and writes a call's new rows after them.
 * Nothing is copied per call but the new rows (inside the model) and, on commit, the accepted
 * rows of a tree. Memory grows with the rows in use (doubling, in chunks of
 * {@link KV_CHUNK_ROWS}) up to `capacity`; a growth copies the cache once.
 */
export class SharedKvCache extends HeadMajorBuffers implements CausalLmCache {
  readonly location = 'cpu' as const;
  /** It fetches every row's logits: its fetch records bind the cache tensors as outputs. */
  readonly greedyOutputs = false;
  readonly sampledOutputs = false;
  private readonly names: CacheNames;
  /** The cache tensors bound as the present outputs, beside the logits (and features). */
  private readonly fetches: Record<string, Tensor | null> = {};
  private readonly fetchesWithFeature: Record<string, Tensor | null> = {};

  constructor(
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    super(names.pastKeys.length, kvHeads, headDim, capacity, dtype, chunk, Math.min(capacity, chunk));
    this.names = names;
    this.fetches[names.logits] = null;
    this.fetchesWithFeature[names.logits] = null;
    this.fetchesWithFeature[names.feature] = null;
    this.bindPresent();
  }

  /** The cached rows: the bias covers the first `length` rows of the buffer. */
  get pastRows(): number {
    return this.length;
  }

  /**
   * Makes room for `rows` rows in all; growing replaces the tensors, so callers that hold them
   * must read them again afterwards. Returns true when it grew.
   * @throws ContextOverflowError when `rows` exceeds the capacity.
   */
  reserve(rows: number): boolean {
    if (rows <= this.allocated) return false;
    this.resize(grownRows(this.allocated, rows, this.capacity, this.chunk), true);
    this.bindPresent();
    return true;
  }

  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    _rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    this.reserve(this.length + rows);
    this.feedBuffers(inputs, names.pastKeys, names.pastValues);
    const fetches = features ? this.fetchesWithFeature : this.fetches;
    let out = await session.run(inputs, fetches);
    if (out[names.presentKeys[0]!] === undefined) {
      // The session ignored outputs bound with another copy of the Tensor class, so the model
      // wrote this call's rows elsewhere: rebind with the session's own class and run again.
      this.useTensorClass(out[names.logits]!.constructor as TensorClass);
      this.feedBuffers(inputs, names.pastKeys, names.pastValues);
      out = await session.run(inputs, fetches);
      if (out[names.presentKeys[0]!] === undefined)
        throw new ContractError(
          'the session did not accept the KV cache as its preallocated present outputs',
        );
    }
    return out;
  }

  /** The model wrote the call's rows in place after the cached ones: keeps `slots` of them ({@link keep}). */
  commit(slots: Int32Array | null, count: number): void {
    if (slots) this.keep(slots, count, this.length);
    else this.length += count;
  }

  reset(): void {
    this.length = 0;
  }

  async dispose(): Promise<void> {}

  /**
   * Keeps rows `at + slots[k]` as rows `at + k` for k < count (the accepted nodes of a tree the
   * model wrote after `at`, in increasing slot order) and sets the length to `at + count`.
   */
  keep(slots: Int32Array, count: number, at: number): void {
    const d = this.headDim;
    const headStride = this.allocated * d;
    for (let l = 0; l < this.layers; l++) {
      const keys = this.keyTensors[l]!.data as KvArray;
      const values = this.valueTensors[l]!.data as KvArray;
      for (let h = 0; h < this.kvHeads; h++) {
        const base = h * headStride + at * d;
        for (let k = 0; k < count; k++) {
          const slot = slots[k]!;
          if (slot === k) continue;
          keys.copyWithin(base + k * d, base + slot * d, base + (slot + 1) * d);
          values.copyWithin(base + k * d, base + slot * d, base + (slot + 1) * d);
        }
      }
    }
    this.length = at + count;
  }

  /**
   * Wraps the same buffers in tensors of `tensorClass`: ONNX Runtime accepts a preallocated output
   * only as an instance of its own copy of the Tensor class.
   */
  useTensorClass(tensorClass: TensorClass): void {
    this.tensorClass = tensorClass;
    const wrap = (t: Tensor) => new tensorClass(this.dtype, t.data as KvArray, t.dims);
    for (let l = 0; l < this.layers; l++) {
      this.keyTensors[l] = wrap(this.keyTensors[l]!);
      this.valueTensors[l] = wrap(this.valueTensors[l]!);
    }
    this.bindPresent();
  }

  /** Points the present outputs of both fetch records at the cache tensors. */
  private bindPresent(): void {
    for (let l = 0; l < this.layers; l++) {
      for (const fetches of [this.fetches, this.fetchesWithFeature]) {
        fetches[this.names.presentKeys[l]!] = this.keyTensors[l]!;
        fetches[this.names.presentValues[l]!] = this.valueTensors[l]!;
      }
    }
  }
}
