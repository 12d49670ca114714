import { ContextOverflowError, ContractError } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';

/** Element type of a KV cache: fp32, or fp16 stored as raw 16-bit words. */
export type KvDtype = 'float32' | 'float16';
/** Storage of one cache tensor. */
export type KvArray = Float32Array | Uint16Array;

/** The names of a model's new-entry outputs: per layer, and packed into one where it has that. */
export interface NewEntryNames {
  readonly presentKeys: readonly string[];
  readonly presentValues: readonly string[];
  /** Every layer's new keys, then its new values, layer by layer, in one output (`ModelOutputs.presentRows`). */
  readonly presentRows?: string;
}

/** The outputs a call fetches for its new entries: the packed one where the model has it, else each layer's. */
export function newEntryOutputs(names: NewEntryNames): string[] {
  return names.presentRows ? [names.presentRows] : [...names.presentKeys, ...names.presentValues];
}

/**
 * Points `keys[l]` and `values[l]` at layer l's new entries in a call's outputs `out`: views of the
 * packed output where the model has it ({@link newEntryOutputs}), else each layer's own outputs.
 * @throws ContractError when the packed output does not split into two blocks per layer.
 */
export function readNewEntries(
  out: InferenceSession.ReturnType,
  names: NewEntryNames,
  keys: KvArray[],
  values: KvArray[],
): void {
  const layers = keys.length;
  if (!names.presentRows) {
    for (let l = 0; l < layers; l++) {
      keys[l] = out[names.presentKeys[l]!]!.data as KvArray;
      values[l] = out[names.presentValues[l]!]!.data as KvArray;
    }
    return;
  }
  const packed = out[names.presentRows]!.data as KvArray;
  const block = packed.length / (2 * layers);
  if (!Number.isInteger(block))
    throw new ContractError(
      `expected ${names.presentRows} to hold the new keys and values of ${layers} layers (a multiple of ${2 * layers} values); found ${packed.length}`,
    );
  for (let l = 0; l < layers; l++) {
    keys[l] = packed.subarray(2 * l * block, (2 * l + 1) * block);
    values[l] = packed.subarray((2 * l + 1) * block, (2 * l + 2) * block);
  }
}

/** Rows a cache allocates at first and adds at least per growth, unless its capacity is smaller. */
export const KV_CHUNK_ROWS = 256;

/** A zeroed buffer of `length` elements of `dtype`. */
export function allocateKv(dtype: KvDtype, length: number): KvArray {
  return dtype === 'float16' ? new Uint16Array(length) : new Float32Array(length);
}

/**
 * Rows to hold after growing from `allocated` to fit `needed`: at least double (so growth copies
 * amortise to O(1) per row), rounded up to whole chunks, at most `capacity`.
 */
export function grownRows(allocated: number, needed: number, capacity: number, chunk: number): number {
  if (needed > capacity) throw new ContextOverflowError(needed, capacity, 'the KV cache');
  const doubled = Math.max(needed, allocated * 2, chunk);
  return Math.min(capacity, Math.ceil(doubled / chunk) * chunk);
}

/**
 * Copies the first `length` rows of every head of a head-major buffer (`kvHeads` blocks of
 * `fromRows` rows of `headDim`) to the same rows of `to`, whose blocks hold `toRows` rows.
 */
export function copyHeadRows(
  from: KvArray,
  fromRows: number,
  to: KvArray,
  toRows: number,
  kvHeads: number,
  headDim: number,
  length: number,
): void {
  const used = length * headDim;
  for (let h = 0; h < kvHeads; h++)
    to.set(from.subarray(h * fromRows * headDim, h * fromRows * headDim + used), h * toRows * headDim);
}

/**
 * A KV cache in the sequence-major layout of plain-attention treespec models: per layer, one key
 * and one value buffer of rows of `kvHeads * headDim` elements. Position p's entry is row p, so
 * the first `length` rows are a contiguous prefix passed to the model as a zero-copy view
 * `[1, length, kvHeads, headDim]`. Entries are written row by row from a model's new-entry
 * outputs, so keeping a cache consistent costs O(rows written), never O(length). Memory grows
 * with the rows in use (doubling, in chunks of {@link KV_CHUNK_ROWS}) up to `capacity`.
 */
export class KvCache {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly rowSize: number;
  /** Most rows the cache may hold. */
  readonly capacity: number;
  readonly dtype: KvDtype;
  readonly keys: KvArray[];
  readonly values: KvArray[];
  /** Rows in use. */
  length = 0;
  private allocated: number;
  private readonly chunk: number;

  constructor(
    layers: number,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    this.layers = layers;
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.rowSize = kvHeads * headDim;
    this.capacity = capacity;
    this.dtype = dtype;
    this.chunk = chunk;
    this.allocated = Math.min(capacity, chunk);
    this.keys = Array.from({ length: layers }, () => allocateKv(dtype, this.allocated * this.rowSize));
    this.values = Array.from({ length: layers }, () => allocateKv(dtype, this.allocated * this.rowSize));
  }

  /** Rows currently allocated (at most `capacity`). */
  get allocatedRows(): number {
    return this.allocated;
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
    if (at + count > this.allocated) this.grow(at + count);
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

  private grow(needed: number): void {
    const rows = grownRows(this.allocated, needed, this.capacity, this.chunk);
    const used = this.length * this.rowSize;
    for (let l = 0; l < this.layers; l++) {
      const keys = allocateKv(this.dtype, rows * this.rowSize);
      const values = allocateKv(this.dtype, rows * this.rowSize);
      keys.set(this.keys[l].subarray(0, used));
      values.set(this.values[l].subarray(0, used));
      this.keys[l] = keys;
      this.values[l] = values;
    }
    this.allocated = rows;
  }
}
