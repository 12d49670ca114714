import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TARGET_IO } from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { writeModelFile } from '../src/model-file.js';
import { OnnxDataType } from '../src/onnx-proto.js';
import { sampledTokens, samplerBlockSize } from '../src/row-sampler-graph.js';

/** Ten tokens: blocks of 4 (the power of two above √10), the last one padded with two. */
const VOCAB = 10;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/**
 * The sampler alone, over logits fed as an input: each of the first `uniforms.length` rows' token,
 * weights and their sum.
 */
async function sampler(
  rows: number[][],
  uniforms: [number, number][],
  temperature: number,
): Promise<{ tokens: number[]; weights: ort.Tensor; mass: ort.Tensor }> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-sampler-'));
  dirs.push(dir);
  const written = await writeModelFile(dir, 'sampler', async (g) => {
    const logits = g.input('logits', OnnxDataType.FLOAT, ['rows', VOCAB]);
    sampledTokens(g, logits, VOCAB, TARGET_IO);
  });
  const session = await ort.InferenceSession.create(join(dir, written.file));
  try {
    const out = await session.run({
      logits: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, VOCAB]),
      sample_uniforms: new ort.Tensor('float32', Float32Array.from(uniforms.flat()), [uniforms.length, 2]),
      sample_temperature: new ort.Tensor('float32', Float32Array.of(temperature), [1]),
    });
    expect(out.sampled_token!.dims).toEqual([1, uniforms.length]);
    expect(out.sampled_token!.type).toBe('int32');
    return {
      tokens: Array.from(out.sampled_token!.data as Int32Array),
      weights: out.sample_weights!,
      mass: out.sample_mass!,
    };
  } finally {
    await session.release();
  }
}

async function drawnTokens(
  rows: number[][],
  uniforms: [number, number][],
  temperature: number,
): Promise<number[]> {
  return (await sampler(rows, uniforms, temperature)).tokens;
}

/** The two-level draw in float64: the block by the first uniform, the token within it by the second. */
function twoLevel(row: number[], [u1, u2]: [number, number], temperature: number): number {
  const size = samplerBlockSize(row.length);
  const largest = Math.max(...row);
  const weights = row.map((x) => Math.exp((x - largest) / temperature));
  const blockWeights: number[] = [];
  for (let b = 0; b * size < row.length; b++)
    blockWeights.push(weights.slice(b * size, (b + 1) * size).reduce((a, c) => a + c, 0));
  const pick = (w: number[], u: number) => {
    const total = w.reduce((a, c) => a + c, 0);
    let cumulative = 0;
    for (let i = 0; i < w.length; i++) {
      cumulative += w[i]!;
      if (cumulative / total > u) return i;
    }
    return w.length - 1;
  };
  const block = pick(blockWeights, u1);
  return block * size + pick(weights.slice(block * size, (block + 1) * size), u2);
}

describe("a target's in-graph sampler", () => {
  const rows = [
    [0, Math.log(2), Math.log(3), Number.NEGATIVE_INFINITY, Math.log(4), -50, 1, Math.log(0.5), -2, 0.25],
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [Number.NEGATIVE_INFINITY, 3, Number.NEGATIVE_INFINITY, 0, -1e30, -1e30, -1e30, -1e30, 2, -1e30],
  ];
  const almostOne = 1 - 2 ** -24;

  it('splits a vocabulary into blocks of the power of two above its square root', () => {
    expect([10, 8192, 128_256, 151_936].map(samplerBlockSize)).toEqual([4, 128, 512, 512]);
  });

  it('draws a block by its weight with the first uniform and a token within it with the second', async () => {
    const pairs: [number, number][] = [];
    for (const u1 of [0, 0.1, 0.3, 0.5, 0.77, 0.95, almostOne])
      for (const u2 of [0, 0.2, 0.45, 0.6, 0.9, almostOne]) pairs.push([u1, u2]);
    for (const temperature of [1, 0.5, 2]) {
      for (const pair of pairs) {
        const drawn = await drawnTokens(rows, [pair, pair, pair], temperature);
        expect(drawn, `${pair} at ${temperature}`).toEqual(
          rows.map((row) => twoLevel(row, pair, temperature)),
        );
      }
    }
  });

  it('never draws a token of weight 0 or of the padding, even with uniforms just below 1', async () => {
    const drawn = await drawnTokens(
      rows,
      [
        [almostOne, almostOne],
        [almostOne, almostOne],
        [almostOne, almostOne],
      ],
      1,
    );
    expect(drawn).toEqual([9, 9, 8]);
    for (const u of [0, 0.5, almostOne]) {
      const [token] = await drawnTokens([rows[2]!], [[u, u]], 1);
      expect([1, 3, 8]).toContain(token);
    }
  });

  it("returns the first k rows' weights, exp((logit − largest) / temperature), and their sums", async () => {
    for (const temperature of [1, 0.5, 2]) {
      const { weights, mass } = await sampler(
        rows,
        [
          [0.5, 0.5],
          [0.5, 0.5],
        ],
        temperature,
      );
      expect(weights.dims).toEqual([1, 2, VOCAB]);
      expect(mass.dims).toEqual([1, 2]);
      for (let r = 0; r < 2; r++) {
        const row = rows[r]!;
        const largest = Math.max(...row);
        const expected = row.map((x) => Math.exp((x - largest) / temperature));
        const got = Array.from((weights.data as Float32Array).subarray(r * VOCAB, (r + 1) * VOCAB));
        for (let i = 0; i < VOCAB; i++) expect(got[i]).toBeCloseTo(expected[i]!, 6);
        // The largest weights 1 exactly: the row's largest logit is the one at its greedy token.
        expect(Math.max(...got)).toBe(1);
        expect((mass.data as Float32Array)[r]).toBeCloseTo(
          expected.reduce((a, c) => a + c, 0),
          5,
        );
      }
    }
    const none = await sampler(rows, [], 1);
    expect(none.weights.dims).toEqual([1, 0, VOCAB]);
    expect(none.mass.dims).toEqual([1, 0]);
  });

  it('draws for the first k rows only, and for none with no uniforms', async () => {
    expect(await drawnTokens(rows, [[0.5, 0.5]], 1)).toEqual([twoLevel(rows[0]!, [0.5, 0.5], 1)]);
    expect(await drawnTokens(rows, [], 1)).toEqual([]);
  });
});
