/**
 * Block quantization of weight rows in the layout of ONNX Runtime's `com.microsoft.MatMulNBits`:
 * each row of a weight [N out, K in] is cut into blocks of `blockSize` values along K (the last
 * block zero-padded when K is not a multiple), and each block gets one float32 scale and, when
 * asymmetric, one zero point. A value is stored as an unsigned `bits`-bit code and means
 * `(code - zeroPoint) * scale`; without zero points the zero point is `2^(bits-1)`.
 *
 * Byte layouts (what MatMulNBits reads):
 * - codes `[N, blocks, blockSize * bits / 8]` uint8, packed low bits first along K (for 4 bits,
 *   value 2i in the low nibble of byte i, value 2i+1 in the high nibble);
 * - scales `[N, blocks]` float32;
 * - zero points `[N, ceil(blocks * bits / 8)]` uint8, packed like the codes.
 */

/** Bits per weight that treespec produces. */
export type QuantizedBits = 4 | 8;

/** How a matrix is block-quantized. */
export interface BlockQuantization {
  readonly bits: QuantizedBits;
  /** Values along K sharing one scale: a power of two, at least 16. */
  readonly blockSize: number;
  /**
   * Symmetric blocks have no zero points (the implicit `2^(bits-1)`); asymmetric blocks store a
   * zero point each and map the block's [min(0, min), max(0, max)] onto the whole code range.
   */
  readonly symmetric: boolean;
}

/** Rows of a matrix, block-quantized. */
export interface QuantizedRows {
  readonly rows: number;
  readonly cols: number;
  /** Blocks per row: ceil(cols / blockSize). */
  readonly blocks: number;
  /** `[rows, blocks, blockSize * bits / 8]` packed codes. */
  readonly codes: Uint8Array;
  /** `[rows, blocks]` scales. */
  readonly scales: Float32Array;
  /** `[rows, ceil(blocks * bits / 8)]` packed zero points, or null when symmetric. */
  readonly zeroPoints: Uint8Array | null;
}

/** Bytes of one block's codes. */
export function blobSize(q: BlockQuantization): number {
  return (q.blockSize * q.bits) / 8;
}

/** Blocks per row of `cols` values. */
export function blockCount(cols: number, q: BlockQuantization): number {
  return Math.ceil(cols / q.blockSize);
}

/** Bytes of one row's packed zero points. */
export function zeroPointBytes(cols: number, q: BlockQuantization): number {
  return Math.ceil((blockCount(cols, q) * q.bits) / 8);
}

/** Quantizes `rows` rows of `cols` values (row-major `values`). */
export function quantizeRows(
  values: Float32Array,
  rows: number,
  cols: number,
  q: BlockQuantization,
): QuantizedRows {
  if (values.length !== rows * cols)
    throw new Error(`quantizeRows: ${values.length} values for ${rows} x ${cols}`);
  const { bits, blockSize, symmetric } = q;
  const blocks = blockCount(cols, q);
  const blob = blobSize(q);
  const maxCode = (1 << bits) - 1;
  const half = 1 << (bits - 1);
  const codes = new Uint8Array(rows * blocks * blob);
  const scales = new Float32Array(rows * blocks);
  const zpBytes = zeroPointBytes(cols, q);
  const zeroPoints = symmetric ? null : new Uint8Array(rows * zpBytes);
  const block = new Uint8Array(blockSize);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * cols + b * blockSize;
      const count = Math.min(blockSize, cols - b * blockSize);
      let scale: number;
      let zero: number;
      if (symmetric) {
        // The value of largest magnitude maps exactly onto code 0 (-2^(bits-1) steps), so the
        // block uses the whole signed range; its negation would be +2^(bits-1) and is clamped.
        let extreme = 0;
        for (let i = 0; i < count; i++) {
          const v = values[start + i]!;
          if (Math.abs(v) > Math.abs(extreme)) extreme = v;
        }
        scale = Math.fround(extreme / -half);
        zero = half;
      } else {
        let lo = 0;
        let hi = 0;
        for (let i = 0; i < count; i++) {
          const v = values[start + i]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        scale = Math.fround((hi - lo) / maxCode);
        zero = scale === 0 ? 0 : Math.min(maxCode, Math.max(0, Math.round(-lo / scale)));
      }
      block.fill(zero);
      if (scale !== 0) {
        for (let i = 0; i < count; i++) {
          block[i] = Math.min(maxCode, Math.max(0, Math.round(values[start + i]! / scale) + zero));
        }
      }
      scales[r * blocks + b] = scale;
      packInto(codes, (r * blocks + b) * blob, block, blockSize, bits);
      if (zeroPoints) setPacked(zeroPoints, r * zpBytes, b, zero, bits);
    }
  }
  return { rows, cols, blocks, codes, scales, zeroPoints };
}

/** The float32 values that quantized rows stand for: `(code - zeroPoint) * scale`. */
export function dequantizeRows(quantized: QuantizedRows, q: BlockQuantization): Float32Array {
  const { rows, cols, blocks, codes, scales, zeroPoints } = quantized;
  const { bits, blockSize } = q;
  const blob = blobSize(q);
  const zpBytes = zeroPointBytes(cols, q);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const scale = scales[r * blocks + b]!;
      const zero = zeroPoints ? getPacked(zeroPoints, r * zpBytes, b, bits) : 1 << (bits - 1);
      const base = (r * blocks + b) * blob;
      for (let i = 0; i < blockSize && b * blockSize + i < cols; i++) {
        out[r * cols + b * blockSize + i] = (getPacked(codes, base, i, bits) - zero) * scale;
      }
    }
  }
  return out;
}

function packInto(out: Uint8Array, at: number, values: Uint8Array, count: number, bits: number): void {
  if (bits === 8) {
    out.set(values.subarray(0, count), at);
    return;
  }
  for (let i = 0; i < count; i++) setPacked(out, at, i, values[i]!, bits);
}

/** Writes the `index`-th `bits`-bit value of the packed run starting at byte `at`. */
function setPacked(out: Uint8Array, at: number, index: number, value: number, bits: number): void {
  if (bits === 8) {
    out[at + index] = value;
    return;
  }
  const byte = at + (index >> 1);
  out[byte] = index & 1 ? (out[byte]! & 0x0f) | (value << 4) : (out[byte]! & 0xf0) | value;
}

function getPacked(data: Uint8Array, at: number, index: number, bits: number): number {
  if (bits === 8) return data[at + index]!;
  const byte = data[at + (index >> 1)]!;
  return index & 1 ? byte >> 4 : byte & 0x0f;
}
