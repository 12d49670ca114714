import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * The output rows of each two-dimensional linear kernel (MatMul, Gemm, MatMulNBits) of one call of
 * `modelPath` on `feeds`, ascending, from ONNX Runtime's profile written into `dir` (a fresh
 * folder): which layers of a graph ran on every new row and which on the scored ones only.
 */
export async function linearOutputRows(
  modelPath: string,
  feeds: Record<string, ort.Tensor>,
  dir: string,
): Promise<number[]> {
  await mkdir(dir, { recursive: true });
  const session = await ort.InferenceSession.create(modelPath, {
    enableProfiling: true,
    profileFilePrefix: join(dir, 'profile'),
  });
  await session.run(feeds);
  session.endProfiling();
  await session.release();
  const [file] = await readdir(dir);
  const events = JSON.parse(await readFile(join(dir, file!), 'utf8')) as {
    cat: string;
    args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] };
  }[];
  const rows: number[] = [];
  for (const e of events) {
    if (e.cat !== 'Node' || !['MatMul', 'Gemm', 'MatMulNBits'].includes(e.args?.op_name ?? '')) continue;
    const [shape] = Object.values(e.args?.output_type_shape?.[0] ?? {});
    if (shape?.length === 2) rows.push(shape[0]!);
  }
  return rows.sort((a, b) => a - b);
}
