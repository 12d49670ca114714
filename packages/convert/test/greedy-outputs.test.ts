import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGET_IO } from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { greedyOutputs } from '../src/causal-lm-graph.js';
import { writeModelFile } from '../src/model-file.js';
import { OnnxDataType } from '../src/onnx-proto.js';

const VOCAB = 6;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The target graph's greedy outputs alone, over logits fed as an input, run by ONNX Runtime. */
async function greedyRows(rows: number[][]): Promise<{ tokens: number[]; sums: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-greedy-'));
  dirs.push(dir);
  const written = await writeModelFile(dir, 'greedy', async (g) => {
    const logits = g.input('logits', OnnxDataType.FLOAT, ['rows', VOCAB]);
    greedyOutputs(g, logits, g.op('Unsqueeze', [logits, g.int64([0])]), VOCAB, TARGET_IO.outputs);
  });
  const session = await ort.InferenceSession.create(join(dir, written.file));
  try {
    const logits = new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, VOCAB]);
    const out = await session.run({ logits });
    expect(out.greedy_token!.dims).toEqual([1, rows.length]);
    expect(out.greedy_token!.type).toBe('int32');
    return {
      tokens: Array.from(out.greedy_token!.data as Int32Array),
      sums: Array.from(out.logit_sum!.data as Float32Array),
    };
  } finally {
    await session.release();
  }
}

describe("a target's greedy outputs", () => {
  it('pick the first of tied largest logits, as greedy decoding over the logits does', async () => {
    const { tokens, sums } = await greedyRows([
      [0.5, 2, 2, -1, 0, 1],
      [-3, -2, -7, -2, -9, -2.5],
      [1, 1, 1, 1, 1, 1],
      [0, 0, 0, 0, 0, 4],
    ]);
    expect(tokens).toEqual([1, 1, 0, 5]);
    expect(sums).toEqual([4.5, -25.5, 6, 4]);
  });

  it('give a non-finite logit sum for a row with a NaN or an infinity anywhere', async () => {
    const { sums } = await greedyRows([
      [0, 1, Number.NaN, 2, 3, 4],
      [0, 1, 2, Number.POSITIVE_INFINITY, 3, 4],
      [0, Number.NEGATIVE_INFINITY, 2, 5, 3, 4],
      [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, 0, 0, 0],
      [-30, 12.5, 0, 7, -1, 3],
    ]);
    expect(sums.map(Number.isFinite)).toEqual([false, false, false, false, true]);
  });
});
