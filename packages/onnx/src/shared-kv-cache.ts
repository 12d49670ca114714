import { ContractError } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames, CausalLmCache, RowOutputs } from './causal-lm-cache.js';
import {
  allocateKv,
  copyHeadRows,
  grownRows,
  KV_CHUNK_ROWS,
  type KvArray,
  type KvDtype,
} from './kv-cache.js';

/** A constructor of onnxruntime-common tensors (Node loads a CommonJS copy of the class beside the ESM one). */
export type TensorClass = typeof Tensor;

/**
 * The KV cache of a fused-attention treespec model (`kvCache.present` `shared`): per layer one key
 * and one value buffer in the head-major layout `[1, kvHeads, rows, headDim]`, passed to the model
 * as `past_*` and bound as its preallocated `present_*` outputs, so ONNX Runtime's
 * GroupQueryAttention reads the cached rows in place and writes a call's new rows after them.
 * Nothing is copied per call but the new rows (inside the model) and, on commit, the accepted
 * rows of a tree. Memory grows with the rows in use (doubling, in chunks of
 * {@link KV_CHUNK_ROWS}) up to `capacity`; a growth copies the cache once.
 */
export class SharedKvCache implements CausalLmCache {
  readonly location = 'cpu' as const;
  /** It fetches every row's logits: its fetch records bind the cache tensors as outputs. */
  readonly greedyOutputs = false;
  readonly sampledOutputs = false;
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Most rows the cache may hold. */
  readonly capacity: number;
  readonly dtype: KvDtype;
  /** Per layer, the key buffer as a `[1, kvHeads, allocatedRows, headDim]` tensor. */
  readonly keyTensors: Tensor[];
  /** Per layer, the value buffer as a tensor. */
  readonly valueTensors: Tensor[];
  /** Rows in use. */
  length = 0;
  private allocated: number;
  private readonly chunk: number;
  private tensorClass: TensorClass = Tensor;
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
    this.names = names;
    this.layers = names.pastKeys.length;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.capacity = capacity;
    this.dtype = dtype;
    this.chunk = chunk;
    this.allocated = Math.min(capacity, chunk);
    this.keyTensors = Array.from({ length: this.layers }, () => this.tensor(this.allocated));
    this.valueTensors = Array.from({ length: this.layers }, () => this.tensor(this.allocated));
    this.fetches[names.logits] = null;
    this.fetchesWithFeature[names.logits] = null;
    this.fetchesWithFeature[names.feature] = null;
    this.bindPresent();
  }

  /** The cached rows: the bias covers the first `length` rows of the buffer. */
  get pastRows(): number {
    return this.length;
  }

  /** Rows currently allocated (at most `capacity`). */
  get allocatedRows(): number {
    return this.allocated;
  }

  /**
   * Makes room for `rows` rows in all; growing replaces the tensors, so callers that hold them
   * must read them again afterwards. Returns true when it grew.
   * @throws ContextOverflowError when `rows` exceeds the capacity.
   */
  reserve(rows: number): boolean {
    if (rows <= this.allocated) return false;
    const next = grownRows(this.allocated, rows, this.capacity, this.chunk);
    for (let l = 0; l < this.layers; l++) {
      this.keyTensors[l] = this.regrown(this.keyTensors[l]!, next);
      this.valueTensors[l] = this.regrown(this.valueTensors[l]!, next);
    }
    this.allocated = next;
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
    this.feedPast(inputs);
    const fetches = features ? this.fetchesWithFeature : this.fetches;
    let out = await session.run(inputs, fetches);
    if (out[names.presentKeys[0]!] === undefined) {
      // The session ignored outputs bound with another copy of the Tensor class, so the model
      // wrote this call's rows elsewhere: rebind with the session's own class and run again.
      this.useTensorClass(out[names.logits]!.constructor as TensorClass);
      this.feedPast(inputs);
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

  /** Feeds the cache tensors as the past inputs. */
  private feedPast(inputs: Record<string, Tensor>): void {
    for (let l = 0; l < this.layers; l++) {
      inputs[this.names.pastKeys[l]!] = this.keyTensors[l]!;
      inputs[this.names.pastValues[l]!] = this.valueTensors[l]!;
    }
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

  private tensor(rows: number): Tensor {
    const data = allocateKv(this.dtype, this.kvHeads * rows * this.headDim);
    return new this.tensorClass(this.dtype, data, [1, this.kvHeads, rows, this.headDim]);
  }

  private regrown(old: Tensor, rows: number): Tensor {
    const next = this.tensor(rows);
    copyHeadRows(
      old.data as KvArray,
      this.allocated,
      next.data as KvArray,
      rows,
      this.kvHeads,
      this.headDim,
      this.length,
    );
    return next;
  }
}
