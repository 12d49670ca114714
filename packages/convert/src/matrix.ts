/**
 * A 2-D float tensor that is read lazily, a block of rows at a time, so converting a layer never
 * needs more memory than one block. Rows are in the Hugging Face orientation: a linear layer's
 * weight is [out features, in features].
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** Where it comes from, for initializer names and error messages. */
  readonly label: string;
  /** Reads rows [start, start + count) as row-major float32. */
  read(start: number, count: number): Promise<Float32Array>;
}

/** A matrix held in memory. */
export function matrixOf(label: string, rows: number, cols: number, data: Float32Array): Matrix {
  return {
    label,
    rows,
    cols,
    read: async (start, count) => data.subarray(start * cols, (start + count) * cols),
  };
}

/** Stacks matrices of equal width on top of each other (fused QKV or gate/up projections). */
export function concatRows(label: string, parts: readonly Matrix[]): Matrix {
  const cols = parts[0]!.cols;
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  return {
    label,
    rows,
    cols,
    async read(start, count) {
      const out = new Float32Array(count * cols);
      let base = 0;
      let filled = 0;
      for (const part of parts) {
        const from = Math.max(start, base);
        const to = Math.min(start + count, base + part.rows);
        if (from < to) {
          out.set(await part.read(from - base, to - from), filled * cols);
          filled += to - from;
        }
        base += part.rows;
      }
      return out;
    },
  };
}

/** Multiplies every element by `factor` (folds the attention scale into the query projection). */
export function scaleMatrix(matrix: Matrix, factor: number): Matrix {
  return {
    ...matrix,
    async read(start, count) {
      const data = Float32Array.from(await matrix.read(start, count));
      for (let i = 0; i < data.length; i++) data[i]! *= factor;
      return data;
    },
  };
}

/** Yields the matrix as blocks of whole rows of at most about `blockBytes` float32 bytes each. */
export async function* rowBlocks(matrix: Matrix, blockBytes = 1 << 24): AsyncGenerator<Float32Array> {
  const step = Math.max(1, Math.floor(blockBytes / (4 * matrix.cols)));
  for (let start = 0; start < matrix.rows; start += step) {
    yield await matrix.read(start, Math.min(step, matrix.rows - start));
  }
}

/** Reads the whole matrix (for the few places that need it transposed or summarised). */
export async function readAll(matrix: Matrix): Promise<Float32Array> {
  const out = new Float32Array(matrix.rows * matrix.cols);
  let at = 0;
  for await (const block of rowBlocks(matrix)) {
    out.set(block, at);
    at += block.length;
  }
  return out;
}
