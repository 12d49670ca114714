/**
 * Writes small non-negative integers into an int64 tensor buffer without creating BigInts: the
 * buffer is viewed as pairs of int32 (little-endian: low word, then high word).
 */
export function writeInt64(words: Int32Array, index: number, value: number): void {
  words[2 * index] = value;
  words[2 * index + 1] = value < 0 ? -1 : 0;
}

/** Reads the low word of an int64 element as a number (valid for |value| < 2^31). */
export function readInt64(words: Int32Array, index: number): number {
  return words[2 * index];
}

/**
 * Copies `count` elements of an int64 tensor's `values`, from element `from` on, into `out` as
 * numbers, reading each one's low word (valid for |value| < 2^31, as token ids are).
 */
export function readInt64s(values: BigInt64Array, from: number, count: number, out: Int32Array): void {
  const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
  for (let i = 0; i < count; i++) out[i] = words[2 * (from + i)];
}

/** An int64 buffer with an int32 view of the same memory. */
export class Int64Buffer {
  readonly values: BigInt64Array;
  readonly words: Int32Array;

  constructor(length: number) {
    this.values = new BigInt64Array(length);
    this.words = new Int32Array(this.values.buffer);
  }

  set(index: number, value: number): void {
    writeInt64(this.words, index, value);
  }
}
