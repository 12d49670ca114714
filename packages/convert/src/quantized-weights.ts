import { OptionError, requireInteger } from '@treespec/core';
import { quantizesActivations, type WeightFormatName, type WeightQuantization } from '@treespec/onnx';
import {
  type BlockQuantization,
  blobSize,
  blockCount,
  type QuantizedBits,
  type QuantizedRows,
  quantizeRows,
  zeroPointBytes,
} from './block-quantization.js';
import type { GraphBuilder } from './graph-builder.js';
import { type Matrix, rowBlocks } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';
import { Fp32Weights, type WeightFormat } from './weight-format.js';

/** ONNX Runtime's contrib operator domain. */
export const MS_DOMAIN = 'com.microsoft';

/** Options of {@link Int8Weights} and {@link Int4Weights}. */
export interface QuantizedWeightOptions {
  /** Weights along the input dimension sharing one scale: a power of two, at least 16 (default 32). */
  readonly blockSize?: number;
  /** Symmetric blocks without zero points (default true), or asymmetric blocks with a uint8 zero point each. */
  readonly symmetric?: boolean;
  /**
   * MatMulNBits' `accuracy_level` (default 4): the least precise arithmetic ONNX Runtime may use
   * for the activations: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 (activations quantized per block
   * to int8 and multiplied with integer instructions, e.g. AVX-512 VNNI; the fastest on CPUs).
   */
  readonly accuracyLevel?: number;
}

/**
 * Linear layers as block-quantized integer codes multiplied by ONNX Runtime's
 * `com.microsoft.MatMulNBits` (docs/onnx-layout.md). Each weight row (one output feature) is
 * quantized in blocks of `blockSize` along its input dimension with a float32 scale per block;
 * a bias stays float32 and is added by the operator. Embeddings stay float32 (`Gather` reads only
 * the rows it needs) and so do norm scales. Use {@link Int8Weights} or {@link Int4Weights}.
 */
export class BlockQuantizedWeights implements WeightFormat {
  readonly name: WeightFormatName;
  readonly quantization: WeightQuantization;
  /** Whether its accuracy level rounds the activations (`quantizesActivations` of @treespec/onnx). */
  readonly quantizesActivations: boolean;
  private readonly block: BlockQuantization;
  /** Embeddings and norm scales are stored as float32 weights store them. */
  private readonly float = new Fp32Weights();

  constructor(bits: QuantizedBits, options: QuantizedWeightOptions = {}) {
    const blockSize = requireInteger('blockSize', options.blockSize ?? 32, 16);
    if ((blockSize & (blockSize - 1)) !== 0)
      throw new OptionError('blockSize', blockSize, 'a power of two >= 16');
    const accuracyLevel = requireInteger('accuracyLevel', options.accuracyLevel ?? 4, 0, 4);
    const symmetric = options.symmetric ?? true;
    this.name = bits === 8 ? 'int8' : 'int4';
    this.block = { bits, blockSize, symmetric };
    this.quantization = { op: `${MS_DOMAIN}.MatMulNBits`, bits, blockSize, symmetric, accuracyLevel };
    this.quantizesActivations = quantizesActivations(accuracyLevel);
  }

  async linear(g: GraphBuilder, x: string, weight: Matrix, bias: Float32Array | null): Promise<string> {
    const q = this.block;
    const { rows, cols, label } = weight;
    const blocks = blockCount(cols, q);
    const zpBytes = zeroPointBytes(cols, q);
    const scales = new Float32Array(rows * blocks);
    const zeroPoints = q.symmetric ? null : new Uint8Array(rows * zpBytes);
    const quantize = (values: Float32Array, n: number) => this.quantize(values, n, cols);
    // Codes stream to the external data a block of rows at a time; scales and zero points (1/8
    // and 1/32 of the float32 bytes at most) are collected and written after them.
    const codes = (async function* () {
      let row = 0;
      for await (const part of rowBlocks(weight)) {
        const n = part.length / cols;
        const quantized = quantize(part, n);
        scales.set(quantized.scales, row * blocks);
        if (zeroPoints) zeroPoints.set(quantized.zeroPoints!, row * zpBytes);
        row += n;
        yield quantized.codes;
      }
    })();
    const blob = blobSize(q);
    const b = await g.initializer(
      `${label}.q${q.bits}`,
      OnnxDataType.UINT8,
      [rows, blocks, blob],
      codes,
      rows * blocks * blob,
    );
    const s = await g.tensor(`${label}.scales`, [rows, blocks], scales);
    const inputs = [x, b, s];
    if (zeroPoints) {
      inputs.push(
        await g.initializer(
          `${label}.zero_points`,
          OnnxDataType.UINT8,
          [rows, zpBytes],
          [zeroPoints],
          zeroPoints.length,
        ),
      );
    }
    if (bias) {
      // Inputs 3 (zero_points) and 4 (g_idx, deprecated) may be left empty before the bias (5).
      while (inputs.length < 5) inputs.push('');
      inputs.push(await g.tensor(`${label}.bias`, [bias.length], bias));
    }
    return g.opIn(MS_DOMAIN, 1, 'MatMulNBits', inputs, {
      K: cols,
      N: rows,
      bits: q.bits,
      block_size: q.blockSize,
      accuracy_level: this.quantization.accuracyLevel,
    });
  }

  embedding(g: GraphBuilder, ids: string, table: Matrix): Promise<string> {
    return this.float.embedding(g, ids, table);
  }

  vector(g: GraphBuilder, label: string, data: Float32Array, dims?: readonly number[]): Promise<string> {
    return this.float.vector(g, label, data, dims);
  }

  /** Quantizes `rows` weight rows of `cols` values; the one place codes and scales are made. */
  protected quantize(values: Float32Array, rows: number, cols: number): QuantizedRows {
    return quantizeRows(values, rows, cols, this.block);
  }
}

/** 8-bit block-quantized linear layers (`weightFormat: "int8"`): about 0.28 of the fp32 bytes at block size 32. */
export class Int8Weights extends BlockQuantizedWeights {
  constructor(options: QuantizedWeightOptions = {}) {
    super(8, options);
  }
}

/** 4-bit block-quantized linear layers (`weightFormat: "int4"`): about 0.16 of the fp32 bytes at block size 32. */
export class Int4Weights extends BlockQuantizedWeights {
  constructor(options: QuantizedWeightOptions = {}) {
    super(4, options);
  }
}
