import type { WeightFormatName, WeightQuantization } from '@treespec/onnx';
import { floatsToHalfBits } from './float-conversion.js';
import type { GraphBuilder } from './graph-builder.js';
import { type Matrix, matrixOf, readAll, rowBlocks } from './matrix.js';
import { OnnxDataType } from './onnx-proto.js';

/**
 * How weights are stored and multiplied. Every weight of a model goes through one of these
 * methods, so a new storage format is one new implementation of this interface and nothing else:
 * {@link Fp32Weights}, {@link Fp16Weights}, and the block-quantized `Int8Weights`/`Int4Weights`
 * (MatMulNBits).
 */
export interface WeightFormat {
  /** Recorded in the manifest. */
  readonly name: WeightFormatName;
  /** Recorded in the manifest (`quantization`) by quantized formats. */
  readonly quantization?: WeightQuantization;
  /**
   * True when the linear layers round their inputs (int8 activations and the like), so that a
   * last-bit difference in an activation can change a result by a whole quantization step; the
   * converter then sums a target's attention in float64 (see `GraphOptions.attentionPrecision`).
   */
  readonly quantizesActivations?: boolean;
  /** `x` [N, in] times the weight [out, in] transposed, plus `bias` [out] when given: [N, out]. */
  linear(g: GraphBuilder, x: string, weight: Matrix, bias: Float32Array | null): Promise<string>;
  /** Rows of `table` [vocab, hidden] picked by the int64 ids `ids` [N]: [N, hidden]. */
  embedding(g: GraphBuilder, ids: string, table: Matrix): Promise<string>;
  /** A small float vector (norm scales), in the activation dtype. */
  vector(g: GraphBuilder, label: string, data: Float32Array, dims?: readonly number[]): Promise<string>;
}

/** Operator used for linear layers by {@link Fp32Weights}. */
export type LinearOp = 'gemm' | 'matmul';

/**
 * float32 weights. `gemm` (the default) keeps each weight in the checkpoint's [out, in] layout and
 * multiplies with `Gemm(transB=1)`, so weights stream to disk block by block and a tied
 * embedding is stored once; `matmul` stores the transpose and uses `MatMul` (+ `Add` for a bias).
 */
export class Fp32Weights implements WeightFormat {
  readonly name = 'fp32' as const;

  constructor(readonly linearOp: LinearOp = 'gemm') {}

  async linear(g: GraphBuilder, x: string, weight: Matrix, bias: Float32Array | null): Promise<string> {
    const biasName = bias ? await g.tensor(`${weight.label}.bias`, [bias.length], bias) : null;
    if (this.linearOp === 'gemm') {
      const w = await g.matrix(weight);
      return g.op('Gemm', biasName ? [x, w, biasName] : [x, w], { transB: 1 });
    }
    const w = await g.matrix(await transposed(weight), `${weight.label}.T`);
    const y = g.op('MatMul', [x, w]);
    return biasName ? g.op('Add', [y, biasName]) : y;
  }

  async embedding(g: GraphBuilder, ids: string, table: Matrix): Promise<string> {
    return g.op('Gather', [await g.matrix(table), ids], { axis: 0 });
  }

  async vector(
    g: GraphBuilder,
    label: string,
    data: Float32Array,
    dims: readonly number[] = [data.length],
  ): Promise<string> {
    return g.tensor(label, dims, data);
  }
}

/**
 * float16 storage of the linear layers and the embedding (`weightFormat: "fp16"`), float32
 * arithmetic: each weight is stored as IEEE half in the checkpoint's [out, in] layout and widened
 * by a `Cast` in front of its `Gemm(transB=1)`; ONNX Runtime folds that cast when it loads the
 * model, so the file is half the size of fp32 and the computation (and its speed) is fp32's, on
 * every provider. The embedding rows are gathered in half and widened after the `Gather`. bf16
 * checkpoints lose nothing but values below half's normal range (about 6e-5) and the last
 * mantissa bits of fp32 ones. Norm scales and biases stay float32.
 */
export class Fp16Weights implements WeightFormat {
  readonly name = 'fp16' as const;
  private readonly halves = new Map<Matrix, string>();

  async linear(g: GraphBuilder, x: string, weight: Matrix, bias: Float32Array | null): Promise<string> {
    const biasName = bias ? await g.tensor(`${weight.label}.bias`, [bias.length], bias) : null;
    const w = g.op('Cast', [await this.half(g, weight)], { to: OnnxDataType.FLOAT });
    return g.op('Gemm', biasName ? [x, w, biasName] : [x, w], { transB: 1 });
  }

  async embedding(g: GraphBuilder, ids: string, table: Matrix): Promise<string> {
    const rows = g.op('Gather', [await this.half(g, table), ids], { axis: 0 });
    return g.op('Cast', [rows], { to: OnnxDataType.FLOAT });
  }

  async vector(
    g: GraphBuilder,
    label: string,
    data: Float32Array,
    dims: readonly number[] = [data.length],
  ): Promise<string> {
    return g.tensor(label, dims, data);
  }

  /** The float16 initializer of `m`, streamed block by block; stored once for a tied embedding. */
  private async half(g: GraphBuilder, m: Matrix): Promise<string> {
    const known = this.halves.get(m);
    if (known) return known;
    const chunks = (async function* () {
      for await (const block of rowBlocks(m)) {
        const halves = floatsToHalfBits(block, new Uint16Array(block.length));
        yield new Uint8Array(halves.buffer);
      }
    })();
    const name = await g.initializer(
      `${m.label}.f16`,
      OnnxDataType.FLOAT16,
      [m.rows, m.cols],
      chunks,
      m.rows * m.cols * 2,
    );
    this.halves.set(m, name);
    return name;
  }
}

async function transposed(m: Matrix): Promise<Matrix> {
  const data = await readAll(m);
  const out = new Float32Array(data.length);
  for (let r = 0; r < m.rows; r++)
    for (let c = 0; c < m.cols; c++) out[c * m.rows + r] = data[r * m.cols + c]!;
  return matrixOf(`${m.label}.T`, m.cols, m.rows, out);
}
