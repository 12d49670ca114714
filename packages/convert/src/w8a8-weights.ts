import type { GraphBuilder } from './graph-builder.js';
import { type Matrix, rowBlocks } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { Fp32Weights, type WeightFormat } from './weight-format.js';

/** Largest activation code: a row's largest magnitude is stored as ±127. */
const ACTIVATION_LEVELS = 127;

/**
 * Largest weight code: a channel's largest magnitude is stored as ±63 (7 bits). ONNX Runtime's x86
 * kernels without VNNI (AVX2, AVX-512 before VNNI) add each two uint8 × int8 products in a
 * saturating 16-bit lane (`vpmaddubsw`): with activation codes up to 255 and weights up to ±127 the
 * pair reaches ±64770 and is clipped at 32767, which put a test model's logits 16 % off on a Zen 2
 * CPU while VNNI CPUs sum them exactly. At ±63 a pair stays within ±32130, so the integer sums are
 * exact on every x86 kernel, as ONNX Runtime's own quantizer does with `reduce_range`.
 */
const WEIGHT_LEVELS = 63;

/** The unsigned offset of an activation code: codes -127..127 are fed as 1..255 with zero point 128. */
const ACTIVATION_ZERO_POINT = 128;

/** Smallest normal float32: the row scale of an all-zero row, so its codes are 0 and never NaN. */
const MIN_ROW_SCALE = 1.1754943508222875e-38;

/** A weight [out, in] as int8 codes, transposed to [in, out], and one float32 scale per output channel. */
export interface ChannelQuantized {
  readonly codes: Int8Array;
  readonly scales: Float32Array;
}

/**
 * Symmetric codes in ±{@link WEIGHT_LEVELS} of a weight [out, in], one scale per output row
 * (channel), transposed to the [in, out] layout `MatMulInteger` multiplies by: the int8 codes and
 * the `out` scales.
 */
export async function quantizeChannels(weight: Matrix): Promise<ChannelQuantized> {
  const { rows, cols } = weight;
  const codes = new Int8Array(rows * cols);
  const scales = new Float32Array(rows);
  let row = 0;
  for await (const block of rowBlocks(weight)) {
    for (let at = 0; at < block.length; at += cols, row++) {
      let max = 0;
      for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(block[at + c]!));
      const scale = Math.fround(max / WEIGHT_LEVELS);
      scales[row] = scale;
      if (scale === 0) continue;
      for (let c = 0; c < cols; c++) codes[c * rows + row] = Math.round(block[at + c]! / scale);
    }
  }
  return { codes, scales };
}

/**
 * Linear layers as int8 weights times int8 activations (`weightFormat: "w8a8"`), multiplied in
 * integers by ONNX Runtime's `MatMulInteger`:
 * - each weight row (output channel) is quantized symmetrically to 7 bits with one float32 scale
 *   (so that no x86 kernel saturates, {@link WEIGHT_LEVELS}), and the codes are stored transposed,
 *   [in, out], as `MatMulInteger` reads them (ONNX Runtime packs them once at load);
 * - each activation row is quantized in the graph with its own scale (its largest magnitude over
 *   127), fed as uint8 with zero point 128, because ONNX Runtime's x86 kernels multiply unsigned
 *   activations by signed weights fastest;
 * - the int32 products are scaled back by the row's scale and the channel's, and a bias is added
 *   in float32.
 *
 * The integer sums are exact, so a row's output depends on that row's input alone, whatever the
 * number of rows in the call: a tree of N rows costs little more than one row (the kernel reads
 * each weight once for all rows), unlike `MatMulNBits`, which re-reads and unpacks its blocks per
 * row. Rounding the activations makes the format quantize activations, so a target's attention
 * sums in float64 ({@link WeightFormat.quantizesActivations}). Embeddings and norm scales stay
 * float32; about 0.25 of the fp32 bytes per linear layer.
 */
export class W8A8Weights implements WeightFormat {
  readonly name = 'w8a8' as const;
  readonly quantizesActivations = true;
  /** Embeddings and norm scales are stored as float32 weights store them. */
  private readonly float = new Fp32Weights();
  private readonly zeroPoints = new WeakMap<GraphBuilder, string>();

  async linear(g: GraphBuilder, x: string, weight: Matrix, bias: Float32Array | null): Promise<string> {
    const { codes, scales } = await this.quantize(weight);
    const w = await g.initializer(
      `${weight.label}.w8`,
      OnnxDataType.INT8,
      [weight.cols, weight.rows],
      [new Uint8Array(codes.buffer)],
      codes.length,
    );
    const channelScales = await g.tensor(`${weight.label}.scales`, [weight.rows], scales);
    const { codes: rowCodes, scales: rowScales } = this.quantizeActivationRows(g, x);
    const products = g.op('MatMulInteger', [rowCodes, w, await this.zeroPoint(g)]);
    const rowScaled = g.op('Mul', [g.op('Cast', [products], { to: OnnxDataType.FLOAT }), rowScales]);
    const y = g.op('Mul', [rowScaled, channelScales]);
    return bias ? g.op('Add', [y, await g.tensor(`${weight.label}.bias`, [bias.length], bias)]) : y;
  }

  embedding(g: GraphBuilder, ids: string, table: Matrix): Promise<string> {
    return this.float.embedding(g, ids, table);
  }

  vector(g: GraphBuilder, label: string, data: Float32Array, dims?: readonly number[]): Promise<string> {
    return this.float.vector(g, label, data, dims);
  }

  /** Quantizes one weight; the one place its codes and scales are made. */
  protected quantize(weight: Matrix): Promise<ChannelQuantized> {
    return quantizeChannels(weight);
  }

  /** Each row of `x` [N, in] as uint8 codes (zero point 128) and its float32 scale [N, 1]. */
  private quantizeActivationRows(g: GraphBuilder, x: string): { codes: string; scales: string } {
    const largest = g.op('ReduceMax', [g.op('Abs', [x])], { axes: [-1], keepdims: 1 });
    const scales = g.op('Max', [
      g.op('Mul', [largest, g.float32([1 / ACTIVATION_LEVELS], [])]),
      g.float32([MIN_ROW_SCALE], []),
    ]);
    const signed = g.op('Round', [g.op('Div', [x, scales])]);
    const shifted = g.op('Add', [signed, g.float32([ACTIVATION_ZERO_POINT], [])]);
    return { codes: g.op('Cast', [shifted], { to: OnnxDataType.UINT8 }), scales };
  }

  /** The scalar uint8 zero point of the activation codes, one per graph. */
  private async zeroPoint(g: GraphBuilder): Promise<string> {
    const known = this.zeroPoints.get(g);
    if (known) return known;
    const name = await g.initializer(
      'w8a8.zero_point',
      OnnxDataType.UINT8,
      [],
      [Uint8Array.of(ACTIVATION_ZERO_POINT)],
      1,
    );
    this.zeroPoints.set(g, name);
    return name;
  }
}
