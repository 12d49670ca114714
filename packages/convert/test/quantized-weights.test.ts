import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BlockQuantization,
  BlockQuantizedWeights,
  type ChannelQuantized,
  convertCausalLM,
  convertEagleHead,
  dequantizeRows,
  Int4Weights,
  Int8Weights,
  parseDecoderConfig,
  type QuantizedBits,
  type QuantizedRows,
  quantizeChannels,
  quantizeRows,
  W8A8Weights,
  type WeightFormat,
} from '../src/index.js';
import { type Matrix, matrixOf } from '../src/matrix.js';
import { decodeModel, OnnxDataType } from '../src/onnx-proto.js';
import {
  causalBias,
  emptyCache,
  headCounts,
  maxAbsDiff,
  openSession,
  runDecoder,
  runSequence,
} from '../src/testing/index.js';
import { seededRandom } from './helpers/random.js';
import {
  type VariantSpec,
  variantConfig,
  type Weights,
  writeVariantCheckpoint,
} from './helpers/random-checkpoint.js';
import { writeHeadCheckpoint } from './helpers/random-head.js';
import { type ReferenceDims, referenceCausalLM, referenceEagleHead } from './helpers/reference-forward.js';

/**
 * Tolerances.
 *
 * EXACT (2e-4 absolute, as for fp32 models): with `accuracyLevel: 1` ONNX Runtime dequantizes the
 * codes to float32 and multiplies in float32, so the model must equal the float64 reference run on
 * the dequantized weights (`dequantizeRows` of the same codes) up to float32 rounding (measured
 * ~1e-6). Any packing, scale or zero-point layout error changes weights by whole quantization
 * steps and shows up as errors of 1e-2 and more.
 *
 * Against the fp32 weights, with the default `accuracyLevel: 4`, the error is the quantization
 * itself, measured as the relative RMS error ‖y − y_ref‖ / ‖y_ref‖ of logits and features:
 * - weights: a symmetric b-bit block step is absmax / 2^(b−1), rounding error uniform within ±step/2
 *   (rms step/√12); the absmax of 32 Gaussian values is ≈ 2.1σ, so the relative rms weight error is
 *   2.1 / (2^(b−1)·√12) = 0.47 % (int8) and 7.6 % (int4); for random weights a linear layer's
 *   output has the same relative error;
 * - activations: accuracy level 4 quantizes each block of 32 inputs to int8 (absmax/127; absmax
 *   ≲ 3× rms): ≲ 3 / (127·√12) = 0.7 % per linear layer;
 * - per linear layer int8 ≈ √(0.47² + 0.7²) = 0.84 %, int4 ≈ 7.6 %; the longest path through the
 *   2-layer test model crosses 9 linear layers (qkv, o, gate/up, down per layer, lm_head) whose
 *   independent errors add in quadrature: × 3 → int8 2.5 %, int4 23 %. The head test uses the same
 *   bounds (its path crosses 6 linear layers, but its fc input is not normalised).
 * - w8a8 (one scale per weight row, absmax of 40–52 Gaussian values ≈ 2.3σ: 2.3 / (127·√12) =
 *   0.52 %; one scale per activation row, absmax ≲ 4× rms: ≲ 0.91 %): √(0.52² + 0.91²) = 1.05 % per
 *   layer, × 3 → 3.1 %, rounded up to 3.5 %.
 * Measured (seeded, so fixed): causal LM logits int8 1.3 %, int4 16 %, w8a8 1.7 %; head logits int8 1.7 %,
 * int4 19 %. The bounds are the derived values rounded up; a wrong scale (×1.1 → 20 % measured) or
 * layout (scrambled weights → 140–150 %) exceeds them, and breaks the exact check by far more.
 */
const EXACT = 2e-4;
const RELATIVE = { int8: 0.025, int4: 0.25, w8a8: 0.035 } as const;

const SPEC: VariantSpec = {
  // hidden 40 and intermediate 52 are not multiples of the block size 32: the last blocks are partial.
  architecture: 'LlamaForCausalLM',
  vocab: 96,
  hidden: 40,
  intermediate: 52,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  tie: false,
  attentionBias: true,
  mlpBias: true,
  dtype: 'BF16',
  seed: 31,
};
const TOKENS = [1, 17, 42, 5, 88, 3, 60];
const POSITIONS = TOKENS.map((_, i) => 3 + i);
const causal = (i: number, j: number) => j <= i;

/** ‖a − ref‖₂ / ‖ref‖₂. */
function relativeError(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let e = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - ref[i]!) ** 2;
    r += ref[i]! ** 2;
  }
  return Math.sqrt(e / r);
}

const LINEAR_SUFFIXES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'].map(
  (l) => `${l}.weight`,
);

/**
 * The weights a quantized model holds: every linear weight [out, in] replaced by the dequantized
 * codes of the same quantization. The converter folds 1/√headDim into q_proj (float32) before
 * quantizing, so q_proj is quantized scaled and divided back for the reference.
 */
function dequantizedWeights(weights: Weights, q: BlockQuantization, spec: VariantSpec = SPEC): Weights {
  const out = new Map(weights);
  const scale = 1 / Math.sqrt(spec.headDim);
  for (const [name, data] of weights) {
    const linear =
      name === 'lm_head.weight' || name === 'fc.weight' || LINEAR_SUFFIXES.some((s) => name.endsWith(s));
    if (!linear) continue;
    const folded = name.endsWith('q_proj.weight');
    out.set(
      name,
      dequantized(folded ? data.map((v) => v * scale) : data, shapeOf(name, spec), q, folded ? scale : 1),
    );
  }
  return out;
}

function dequantized(
  data: Float32Array,
  [rows, cols]: [number, number],
  q: BlockQuantization,
  scale = 1,
): Float32Array {
  const values = dequantizeRows(quantizeRows(data, rows, cols, q), q);
  return scale === 1 ? values : Float32Array.from(values, (v) => v / scale);
}

function shapeOf(name: string, s: VariantSpec): [number, number] {
  const { hidden: h, heads, kvHeads, headDim: d, intermediate: m, vocab } = s;
  if (name === 'lm_head.weight') return [vocab, h];
  if (name === 'fc.weight') return [h, 2 * h];
  if (name.endsWith('q_proj.weight')) return [heads * d, h];
  if (name.endsWith('k_proj.weight') || name.endsWith('v_proj.weight')) return [kvHeads * d, h];
  if (name.endsWith('o_proj.weight')) return [h, heads * d];
  if (name.endsWith('down_proj.weight')) return [h, m];
  return [m, h];
}

const DIMS = (() => {
  const config = parseDecoderConfig(variantConfig(SPEC), 'config.json');
  return { ...config, eps: config.rmsNormEps, tie: SPEC.tie } satisfies ReferenceDims;
})();

let root: string;
let checkpoint: string;
let weights: Weights;
let counter = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-quant-'));
  checkpoint = join(root, 'hf');
  weights = await writeVariantCheckpoint(checkpoint, SPEC);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Converts the test checkpoint with `format` and returns its logits and features for TOKENS. */
async function convertAndRun(format: WeightFormat | 'int8' | 'int4' | 'w8a8') {
  const out = join(root, `m${++counter}`);
  const result = await convertCausalLM({ checkpoint, out, weightFormat: format });
  const session = await openSession(join(out, result.model.file));
  const shape = { layers: SPEC.layers, kvHeads: SPEC.kvHeads, headDim: SPEC.headDim };
  const run = await runDecoder(
    session,
    shape,
    TOKENS,
    POSITIONS,
    causalBias(0, TOKENS.length),
    emptyCache(2),
  );
  await session.release();
  return {
    result,
    file: join(out, result.model.file),
    logits: run.outputs.logits!.data as Float32Array,
    features: run.outputs.feature!.data as Float32Array,
  };
}

describe('quantizeRows / dequantizeRows', () => {
  it('packs 4-bit codes low nibble first, one scale per block, and pads a partial last block with the zero point', () => {
    // One row of 40 values: a full block of 32 and a partial block of 8.
    const row = Float32Array.from({ length: 40 }, (_, i) => (i < 32 ? (i % 16) - 8 : i - 36));
    const q: BlockQuantization = { bits: 4, blockSize: 32, symmetric: true };
    const { codes, scales, zeroPoints, blocks } = quantizeRows(row, 1, 40, q);
    expect(blocks).toBe(2);
    expect(codes).toHaveLength(2 * 16);
    expect(zeroPoints).toBeNull();
    // Block 0: largest magnitude -8 maps to code 0, so scale = -8 / -8 = 1 and code = v + 8.
    expect(scales[0]).toBe(1);
    expect(codes[0]).toBe(0x10); // values -8 (code 0, low nibble) and -7 (code 1, high nibble)
    expect(codes[7]).toBe(0xfe); // values 6 and 7: codes 14 and 15
    // Block 1: values -4..3, extreme -4 → scale 0.5; value 3 → round(3 / 0.5) + 8 = 14.
    expect(scales[1]).toBe(0.5);
    expect(codes[16]).toBe(0x20); // -4 → 0, -3 → 2
    expect(codes[19]).toBe(0xec); // 2 → 12, 3 → 14
    expect(Array.from(codes.subarray(20))).toEqual(new Array(12).fill(0x88)); // padding: zero point 8
    expect(Array.from(dequantizeRows({ rows: 1, cols: 40, blocks, codes, scales, zeroPoints }, q))).toEqual(
      Array.from(row),
    );
  });

  it('rounds every weight to within half a step, for 8 and 4 bits, symmetric and asymmetric', () => {
    const random = seededRandom(7);
    const rows = 5;
    const cols = 70;
    const values = Float32Array.from({ length: rows * cols }, () => (2 * random() - 1) ** 3);
    for (const bits of [8, 4] as QuantizedBits[]) {
      for (const symmetric of [true, false]) {
        const q: BlockQuantization = { bits, blockSize: 32, symmetric };
        const quantized = quantizeRows(values, rows, cols, q);
        const back = dequantizeRows(quantized, q);
        for (let i = 0; i < values.length; i++) {
          const step = Math.abs(quantized.scales[Math.floor(i / cols) * 3 + Math.floor((i % cols) / 32)]!);
          // Symmetric blocks clamp the negation of their extreme value (code 2^bits would be needed): one step.
          expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(step * (symmetric ? 1 : 0.5) + 1e-7);
        }
        if (!symmetric) expect(quantized.zeroPoints).toHaveLength(rows * Math.ceil((3 * bits) / 8));
      }
    }
  });
});

describe('int8 and int4 weights (MatMulNBits)', () => {
  it('records the format in the manifest and multiplies every linear layer with MatMulNBits', async () => {
    const { result, file } = await convertAndRun('int8');
    expect(result.model.weightFormat).toBe('int8');
    expect(result.model.quantization).toEqual({
      op: 'com.microsoft.MatMulNBits',
      bits: 8,
      blockSize: 32,
      symmetric: true,
      accuracyLevel: 4,
    });
    const model = decodeModel(await readFile(file));
    expect(model.opsetImport).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    const ops = model.graph.node.map((n) => n.opType);
    // Per layer: fused q/k/v, o, fused gate/up, down; then lm_head. The only MatMuls left are the
    // two of attention per layer (scores and context) and the sampler's sums of its blocks'
    // weights, which multiply no checkpoint weights.
    expect(ops.filter((o) => o === 'MatMulNBits')).toHaveLength(2 * 4 + 1);
    expect(ops.filter((o) => o === 'MatMul')).toHaveLength(2 * 2 + 1);
    expect(ops).not.toContain('Gemm');
    const lmHead = model.graph.node.filter((n) => n.opType === 'MatMulNBits').at(-1)!;
    expect(lmHead.domain).toBe('com.microsoft');
    const attrs = Object.fromEntries(lmHead.attribute.map((a) => [a.name, a.i]));
    expect(attrs).toEqual({ K: 40, N: 96, bits: 8, block_size: 32, accuracy_level: 4 });
    const b = model.graph.initializer.find((t) => t.name === lmHead.input[1]);
    expect(b?.dims).toEqual([96, 2, 32]);
    // The embedding stays a float32 Gather table.
    const gather = model.graph.initializer.find((t) => t.name === 'model.embed_tokens.weight');
    expect(gather).toMatchObject({ dataType: 1, dims: [96, 40] });
  });

  it('sums a target’s attention in float64 where its activations are quantized, and nowhere else', async () => {
    /**
     * Casts to float64 in the model file: the scores and the values of each layer's plain attention
     * (a target's in-graph sampler sums its weights in float64 whatever the format).
     */
    const doubleCasts = async (file: string) =>
      decodeModel(await readFile(file)).graph.node.filter(
        (n) =>
          n.opType === 'Cast' &&
          !n.output[0]!.startsWith('sample_') &&
          n.attribute.some((a) => a.name === 'to' && a.i === 11),
      ).length;
    const converted = async (options: Partial<Parameters<typeof convertCausalLM>[0]>) => {
      const out = join(root, `m${++counter}`);
      const result = await convertCausalLM({ checkpoint, out, ...options });
      return doubleCasts(join(out, result.model.file));
    };
    expect(await converted({ weightFormat: 'int8' })).toBe(2 * SPEC.layers);
    expect(await converted({ weightFormat: 'int4' })).toBe(2 * SPEC.layers);
    expect(await converted({ weightFormat: new Int8Weights({ accuracyLevel: 1 }) })).toBe(0);
    expect(await converted({ weightFormat: 'fp32' })).toBe(0);
    expect(await converted({ weightFormat: 'fp32', graph: { attentionPrecision: 'float64' } })).toBe(
      2 * SPEC.layers,
    );
    expect(await converted({ weightFormat: 'int8', graph: { attentionPrecision: 'float32' } })).toBe(0);
    // A draft LM's drafts only change how many tokens are accepted, never the output.
    expect(await converted({ weightFormat: 'int8', role: 'draft' })).toBe(0);
  });

  for (const [bits, symmetric] of [
    [8, true],
    [4, true],
    [8, false],
    [4, false],
  ] as const) {
    it(`encodes exactly the dequantized weights (${bits} bits, ${symmetric ? 'symmetric' : 'asymmetric'}, float32 compute)`, async () => {
      const q: BlockQuantization = { bits, blockSize: 32, symmetric };
      const { logits, features } = await convertAndRun(
        new BlockQuantizedWeights(bits, { symmetric, accuracyLevel: 1 }),
      );
      const ref = referenceCausalLM(dequantizedWeights(weights, q), DIMS, TOKENS, POSITIONS, causal);
      expect(maxAbsDiff(logits, ref.logits)).toBeLessThan(EXACT);
      expect(maxAbsDiff(features, ref.features)).toBeLessThan(EXACT);
    });
  }

  for (const name of ['int8', 'int4'] as const) {
    it(`stays within ${RELATIVE[name] * 100} % relative error of the fp32 reference forward (${name}, defaults)`, async () => {
      const { logits, features } = await convertAndRun(name);
      const ref = referenceCausalLM(weights, DIMS, TOKENS, POSITIONS, causal);
      expect(relativeError(logits, ref.logits)).toBeLessThan(RELATIVE[name]);
      expect(relativeError(features, ref.features)).toBeLessThan(RELATIVE[name]);
    });
  }

  it.each([
    [
      'int8 with every scale 10 % too large',
      8,
      'int8',
      (r: QuantizedRows) => r.scales.set(r.scales.map((s) => s * 1.1)),
    ],
    [
      'int8 with scales stored block-major instead of row-major',
      8,
      'int8',
      (r: QuantizedRows) => {
        const copy = r.scales.slice();
        for (let i = 0; i < r.rows; i++)
          for (let b = 0; b < r.blocks; b++) r.scales[b * r.rows + i] = copy[i * r.blocks + b]!;
      },
    ],
    [
      'int4 with the nibbles of each byte swapped',
      4,
      'int4',
      (r: QuantizedRows) => r.codes.set(r.codes.map((c) => ((c & 15) << 4) | (c >> 4))),
    ],
  ] as const)('fails both checks with %s', async (_name, bits, name, corrupt) => {
    class Corrupted extends BlockQuantizedWeights {
      protected override quantize(values: Float32Array, rows: number, cols: number): QuantizedRows {
        const quantized = super.quantize(values, rows, cols);
        corrupt(quantized);
        return quantized;
      }
    }
    const { logits } = await convertAndRun(new Corrupted(bits));
    const ref = referenceCausalLM(weights, DIMS, TOKENS, POSITIONS, causal);
    expect(relativeError(logits, ref.logits)).toBeGreaterThan(RELATIVE[name]);
    const q: BlockQuantization = { bits, blockSize: 32, symmetric: true };
    const exact = referenceCausalLM(dequantizedWeights(weights, q), DIMS, TOKENS, POSITIONS, causal);
    expect(maxAbsDiff(logits, exact.logits)).toBeGreaterThan(EXACT * 10);
  });

  it('converts an EAGLE head: exact on its dequantized weights, within the derived error of fp32', async () => {
    const target = { ...SPEC, hidden: 32, intermediate: 40, seed: 33 };
    const dir = join(root, 'head');
    const targetWeights = await writeVariantCheckpoint(join(dir, 'target'), target);
    const head = await writeHeadCheckpoint(join(dir, 'head'), target, 34);
    const embedding = targetWeights.get('model.embed_tokens.weight')!;
    const lmHead = targetWeights.get('lm_head.weight')!;
    const config = parseDecoderConfig(variantConfig(target), 'config.json');
    const dims = { ...config, layers: 1, eps: 1e-6, tie: false };
    const tokens = [4, 9, 33, 71, 12];
    const positions = tokens.map((_, i) => i);
    const features = Float32Array.from({ length: tokens.length * 32 }, (_, i) => Math.sin(i * 0.37) * 2);
    const run = async (format: WeightFormat, id: string) => {
      const result = await convertEagleHead({
        checkpoint: join(dir, 'head'),
        target: join(dir, 'target'),
        out: join(dir, 'onnx'),
        id,
        weightFormat: format,
      });
      const session = await openSession(join(dir, 'onnx', result.model.file));
      const { outputs } = await runSequence(session, { layers: 1, kvHeads: 2, headDim: 8 }, tokens, {
        feature: new ort.Tensor('float32', features, [1, tokens.length, 32]),
        ...headCounts(3, tokens.length),
      });
      await session.release();
      return {
        result,
        hidden: outputs.hidden!.data as Float32Array,
        logits: outputs.logits!.data as Float32Array,
      };
    };

    const q: BlockQuantization = { bits: 8, blockSize: 32, symmetric: true };
    const exact = await run(new Int8Weights({ accuracyLevel: 1 }), 'head-exact');
    const deqHead = dequantizedWeights(head, q, target);
    const deqLmHead = dequantized(lmHead, [target.vocab, 32], q);
    const refQ = referenceEagleHead(deqHead, deqLmHead, embedding, dims, tokens, features, positions, causal);
    expect(maxAbsDiff(exact.hidden, refQ.hidden)).toBeLessThan(EXACT);
    expect(maxAbsDiff(exact.logits, refQ.logits)).toBeLessThan(EXACT);

    const ref = referenceEagleHead(head, lmHead, embedding, dims, tokens, features, positions, causal);
    for (const format of [new Int8Weights(), new Int4Weights()]) {
      const bound = RELATIVE[format.name as 'int8' | 'int4'];
      const { result, logits, hidden } = await run(format, `head-${format.name}`);
      expect(result.model).toMatchObject({ role: 'eagle-head', weightFormat: format.name });
      expect(relativeError(hidden, ref.hidden)).toBeLessThan(bound);
      expect(relativeError(logits, ref.logits)).toBeLessThan(bound);
    }
  });
});

describe('quantizeChannels', () => {
  it('keeps one scale per output row and stores 7-bit codes transposed, each within half a step', async () => {
    const random = seededRandom(5);
    const [rows, cols] = [7, 19];
    const data = Float32Array.from({ length: rows * cols }, () => (random() - 0.5) * 4);
    data.fill(0, 3 * cols, 4 * cols); // an all-zero row: scale 0, codes 0
    const { codes, scales } = await quantizeChannels(matrixOf('w', rows, cols, data));
    expect(codes).toHaveLength(rows * cols);
    expect(scales).toHaveLength(rows);
    expect(scales[3]).toBe(0);
    for (let r = 0; r < rows; r++) {
      let largest = 0;
      for (let c = 0; c < cols; c++) largest = Math.max(largest, Math.abs(data[r * cols + c]!));
      expect(scales[r]).toBeCloseTo(largest / 63, 7);
      for (let c = 0; c < cols; c++) {
        const code = codes[c * rows + r]!;
        expect(Math.abs(code)).toBeLessThanOrEqual(63);
        expect(Math.abs(code * scales[r]! - data[r * cols + c]!)).toBeLessThanOrEqual(scales[r]! / 2 + 1e-7);
      }
    }
  });
});

describe('w8a8 weights (MatMulInteger)', () => {
  it('records the format and multiplies every linear layer with MatMulInteger on [in, out] int8 codes', async () => {
    const { result, file } = await convertAndRun('w8a8');
    expect(result.model.weightFormat).toBe('w8a8');
    expect(result.model.quantization).toBeUndefined();
    const model = decodeModel(await readFile(file));
    const ops = model.graph.node.map((n) => n.opType);
    // Per layer: fused q/k/v, o, fused gate/up, down; then lm_head.
    expect(ops.filter((o) => o === 'MatMulInteger')).toHaveLength(2 * 4 + 1);
    expect(ops).not.toContain('Gemm');
    expect(ops).not.toContain('MatMulNBits');
    const lmHead = model.graph.node.filter((n) => n.opType === 'MatMulInteger').at(-1)!;
    const [activations, codes, zeroPoint] = lmHead.input;
    expect(model.graph.initializer.find((t) => t.name === codes)).toMatchObject({
      dataType: OnnxDataType.INT8,
      dims: [40, 96],
    });
    expect(model.graph.initializer.find((t) => t.name === zeroPoint)).toMatchObject({
      dataType: OnnxDataType.UINT8,
      dims: [],
    });
    const cast = model.graph.node.find((n) => n.output[0] === activations)!;
    expect(cast.opType).toBe('Cast');
    expect(cast.attribute.find((a) => a.name === 'to')?.i).toBe(OnnxDataType.UINT8);
    // Its activations round, so a target's attention sums in float64 (as int8's).
    expect(result.model.attentionPrecision).toBe('float64');
  });

  it(`stays within ${RELATIVE.w8a8 * 100} % relative error of the fp32 reference forward`, async () => {
    const { logits, features } = await convertAndRun('w8a8');
    const ref = referenceCausalLM(weights, DIMS, TOKENS, POSITIONS, causal);
    expect(relativeError(logits, ref.logits)).toBeLessThan(RELATIVE.w8a8);
    expect(relativeError(features, ref.features)).toBeLessThan(RELATIVE.w8a8);
  });

  it.each([
    ['every scale 10 % too large', (q: ChannelQuantized) => q.scales.set(q.scales.map((s) => s * 1.1))],
    [
      'the codes left in the checkpoint’s [out, in] order',
      (q: ChannelQuantized, weight: Matrix) => {
        const copy = q.codes.slice();
        for (let r = 0; r < weight.rows; r++)
          for (let c = 0; c < weight.cols; c++) q.codes[r * weight.cols + c] = copy[c * weight.rows + r]!;
      },
    ],
  ] as const)('fails the check with %s', async (_name, corrupt) => {
    class Corrupted extends W8A8Weights {
      protected override async quantize(weight: Matrix): Promise<ChannelQuantized> {
        const quantized = await super.quantize(weight);
        corrupt(quantized, weight);
        return quantized;
      }
    }
    const { logits } = await convertAndRun(new Corrupted());
    const ref = referenceCausalLM(weights, DIMS, TOKENS, POSITIONS, causal);
    expect(relativeError(logits, ref.logits)).toBeGreaterThan(RELATIVE.w8a8 * 2);
  });
});
