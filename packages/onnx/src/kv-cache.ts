import { ContextOverflowError } from '@treespec/core';
import { Tensor } from 'onnxruntime-common';

/** Element type of a KV cache: fp32, or fp16 stored as raw 16-bit words. */
export type KvDtype = 'float32' | 'float16';
/** Storage of one cache tensor. */
export type KvArray = Float32Array | Uint16Array;

function allocate(dtype: KvDtype, length: number): KvArray {
  return dtype === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * A KV cache in the sequence-major layout of treespec models: per layer, one key and one value
 * buffer of `capacity` rows of `kvHeads * headDim` elements, allocated once. Position p's entry
 * is row p, so the first `length` rows are a contiguous prefix that is passed to the model as a
 * zero-copy view `[1, length, kvHeads, headDim]`. Entries are written row by row from a model's
 * new-entry outputs, so keeping a cache consistent costs O(rows written), never O(length).
 */
export class KvCache {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly rowSize: number;
  readonly capacity: number;
  readonly dtype: KvDtype;
  readonly keys: KvArray[];
  readonly values: KvArray[];
  /** Rows in use. */
  length = 0;

  constructor(layers: number, kvHeads: number, headDim: number, capacity: number, dtype: KvDtype) {
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.rowSize = kvHeads * headDim;
    this.capacity = capacity;
    this.dtype = dtype;
    this.keys = Array.from({ length: layers }, () => allocate(dtype, capacity * this.rowSize));
    this.values = Array.from({ length: layers }, () => allocate(dtype, capacity * this.rowSize));
  }

  /** The first `rows` key rows of `layer` as a `[1, rows, kvHeads, headDim]` tensor (no copy). */
  keyTensor(layer: number, rows: number): Tensor {
    return new Tensor(this.dtype, this.keys[layer].subarray(0, rows * this.rowSize), [
      1,
      rows,
      this.kvHeads,
      this.headDim,
    ]);
  }

  /** The first `rows` value rows of `layer` as a tensor (no copy). */
  valueTensor(layer: number, rows: number): Tensor {
    return new Tensor(this.dtype, this.values[layer].subarray(0, rows * this.rowSize), [
      1,
      rows,
      this.kvHeads,
      this.headDim,
    ]);
  }

  /**
   * Copies new-entry rows `slots[0..count)` of `newKeys`/`newValues` (a model's `[1, N, kvHeads,
   * headDim]` outputs for `layer`) to rows `at, at + 1, …`.
   */
  writeRows(
    layer: number,
    newKeys: KvArray,
    newValues: KvArray,
    slots: Int32Array | null,
    count: number,
    at: number,
  ): void {
    if (at + count > this.capacity) {
      throw new ContextOverflowError(at + count, this.capacity, 'the KV cache');
    }
    const size = this.rowSize;
    const keys = this.keys[layer];
    const values = this.values[layer];
    for (let k = 0; k < count; k++) {
      const src = (slots ? slots[k] : k) * size;
      const dst = (at + k) * size;
      for (let j = 0; j < size; j++) {
        keys[dst + j] = newKeys[src + j];
        values[dst + j] = newValues[src + j];
      }
    }
  }
}
