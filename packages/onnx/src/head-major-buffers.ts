import { Tensor } from 'onnxruntime-common';
import { allocateKv, copyHeadRows, type KvArray, type KvDtype } from './kv-cache.js';

/** A constructor of onnxruntime-common tensors (Node loads a CommonJS copy of the class beside the ESM one). */
export type TensorClass = typeof Tensor;

/**
 * What the head-major KV caches keep: per layer one key and one value buffer in the layout
 * `[1, kvHeads, allocatedRows, headDim]`, each wrapped once in a tensor that every call is fed, of
 * `allocatedRows` rows that the subclass grows (copying each head's first `length` rows) as its
 * policy says. The fused model's {@link SharedKvCache} and the in-place model's
 * `HeadMajorKvCache` are both.
 */
export abstract class HeadMajorBuffers {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Most rows the cache may hold. */
  readonly capacity: number;
  readonly dtype: KvDtype;
  /** Per layer, the key buffer as a `[1, kvHeads, allocatedRows, headDim]` tensor (replaced on growth). */
  readonly keyTensors: Tensor[];
  /** Per layer, the value buffer as a tensor. */
  readonly valueTensors: Tensor[];
  /** Rows in use. */
  length = 0;
  protected allocated: number;
  protected readonly chunk: number;
  protected tensorClass: TensorClass = Tensor;

  protected constructor(
    layers: number,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number,
    rows: number,
  ) {
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.capacity = capacity;
    this.dtype = dtype;
    this.chunk = chunk;
    this.allocated = rows;
    this.keyTensors = Array.from({ length: layers }, () => this.tensor(rows));
    this.valueTensors = Array.from({ length: layers }, () => this.tensor(rows));
  }

  /** Rows currently allocated (at most `capacity`). */
  get allocatedRows(): number {
    return this.allocated;
  }

  /** Feeds every layer's buffers as the inputs named `pastKeys[l]` and `pastValues[l]`. */
  protected feedBuffers(
    inputs: Record<string, Tensor>,
    pastKeys: readonly string[],
    pastValues: readonly string[],
  ): void {
    for (let l = 0; l < this.layers; l++) {
      inputs[pastKeys[l]!] = this.keyTensors[l]!;
      inputs[pastValues[l]!] = this.valueTensors[l]!;
    }
  }

  /**
   * Replaces every buffer by one of `rows` rows per head, holding each head's first `length` rows
   * (none when `keep` is false).
   */
  protected resize(rows: number, keep: boolean): void {
    for (const tensors of [this.keyTensors, this.valueTensors]) {
      for (let l = 0; l < this.layers; l++) {
        const next = this.tensor(rows);
        if (keep) {
          const from = tensors[l]!.data as KvArray;
          copyHeadRows(
            from,
            this.allocated,
            next.data as KvArray,
            rows,
            this.kvHeads,
            this.headDim,
            this.length,
          );
        }
        tensors[l] = next;
      }
    }
    this.allocated = rows;
  }

  private tensor(rows: number): Tensor {
    const data = allocateKv(this.dtype, this.kvHeads * rows * this.headDim);
    return new this.tensorClass(this.dtype, data, [1, this.kvHeads, rows, this.headDim]);
  }
}
