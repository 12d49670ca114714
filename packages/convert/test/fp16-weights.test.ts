import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, floatsToHalfBits, floatToHalfBits, parseDecoderConfig } from '../src/index.js';
import { decodeModel, OnnxDataType } from '../src/onnx-proto.js';
import { causalBias, emptyCache, maxAbsDiff, openSession, runDecoder } from '../src/testing/index.js';
import { normals, seededRandom } from './helpers/random.js';
import { type VariantSpec, variantConfig, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { referenceCausalLM } from './helpers/reference-forward.js';

/** As in variants.test.ts: fp32 arithmetic against the float64 reference on identical weights. */
const TOLERANCE = 2e-4;

const BASE = { vocab: 96, hidden: 32, intermediate: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 8 };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-fp16-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('floatsToHalfBits', () => {
  it('rounds exactly as floatToHalfBits, ties, subnormals, overflow and NaN included', () => {
    const random = seededRandom(21);
    const special = [
      0,
      -0,
      1,
      -1,
      65504,
      65519.99,
      65520,
      1e9,
      -1e9,
      2 ** -14,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
    ];
    const ties = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2048 + 1, 2 ** -14 + 2 ** -25, 5 * 2 ** -26];
    const values = Float32Array.from([
      ...special,
      ...ties,
      ...normals(random, 2000, 0.05),
      ...normals(random, 500, 3000),
      ...normals(random, 500, 1e-5),
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    const fast = floatsToHalfBits(values, new Uint16Array(values.length));
    expect(Array.from(fast)).toEqual(Array.from(values, (v) => floatToHalfBits(v)));
  });
});

describe('fp16 weights (half storage, float32 arithmetic)', () => {
  const cases: [string, VariantSpec][] = [
    ['untied GQA 4:2', { ...BASE, architecture: 'LlamaForCausalLM', tie: false, dtype: 'F16', seed: 31 }],
    [
      'tied qwen2 with q/k/v biases',
      { ...BASE, architecture: 'Qwen2ForCausalLM', tie: true, headDim: 16, dtype: 'F16', seed: 32 },
    ],
  ];
  for (const [name, spec] of cases) {
    it(`matches the reference forward of an fp16 checkpoint with every linear weight and the embedding stored as half: ${name}`, async () => {
      const dir = join(root, `s${spec.seed}`);
      const weights = await writeVariantCheckpoint(join(dir, 'hf'), spec);
      const fp16 = await convertCausalLM({
        checkpoint: join(dir, 'hf'),
        out: join(dir, 'onnx'),
        id: 'fp16',
        weightFormat: 'fp16',
      });
      expect(fp16.model.weightFormat).toBe('fp16');
      expect(fp16.model.dtype).toBe('float32');
      // Every linear weight and the embedding (once when tied) is a float16 initializer; the only
      // large float32 ones left are the RoPE tables.
      const { vocab, hidden: h, layers, heads, kvHeads, headDim: d, intermediate } = spec;
      const perLayer = 2 * h * heads * d + 2 * h * kvHeads * d + 3 * h * intermediate;
      const halved = vocab * h * (spec.tie ? 1 : 2) + layers * perLayer;
      const graph = decodeModel(await readFile(join(dir, 'onnx', fp16.model.file))).graph!;
      const elements = (dims: readonly number[]) => dims.reduce((a, b) => a * Number(b), 1);
      const sum = (type: number) =>
        graph.initializer!.filter((t) => t.dataType === type).reduce((n, t) => n + elements(t.dims!), 0);
      expect(sum(OnnxDataType.FLOAT16)).toBe(halved);
      const largeFloat = graph.initializer!.filter(
        (t) => t.dataType === OnnxDataType.FLOAT && elements(t.dims!) > 256,
      );
      expect(largeFloat.map((t) => t.name).sort()).toEqual(['rope_cos_half', 'rope_sin_half']);
      const config = parseDecoderConfig(variantConfig(spec), 'config.json');
      const tokens = [1, 17, 42, 5, 88, 3, 60];
      const ref = referenceCausalLM(
        weights,
        { ...config, eps: config.rmsNormEps, tie: spec.tie },
        tokens,
        tokens.map((_, i) => i),
        (i, j) => j <= i,
      );
      const session = await openSession(join(dir, 'onnx', fp16.model.file));
      const shape = { layers: spec.layers, kvHeads: spec.kvHeads, headDim: spec.headDim };
      const first = await runDecoder(
        session,
        shape,
        tokens.slice(0, 4),
        [0, 1, 2, 3],
        causalBias(0, 4),
        emptyCache(2),
      );
      const second = await runDecoder(
        session,
        shape,
        tokens.slice(4),
        [4, 5, 6],
        causalBias(4, 3),
        first.cache,
      );
      expect(
        maxAbsDiff(first.outputs.logits!.data as Float32Array, ref.logits.subarray(0, 4 * spec.vocab)),
      ).toBeLessThan(TOLERANCE);
      expect(
        maxAbsDiff(second.outputs.logits!.data as Float32Array, ref.logits.subarray(4 * spec.vocab)),
      ).toBeLessThan(TOLERANCE);
      await session.release();
    });
  }
});
