import { type RopeConfig, ropeAttentionFactor, ropeInverseFrequencies } from '../../src/index.js';
import type { Weights } from './random-checkpoint.js';

/**
 * A plain TypeScript forward pass of a Llama-family decoder in float64, written from the model
 * definitions (not from the converter's graph), to check converted ONNX models against.
 */
export interface ReferenceDims {
  readonly vocab: number;
  readonly hidden: number;
  readonly intermediate: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly eps: number;
  readonly rope: RopeConfig;
  readonly tie: boolean;
}

/** Logits [n, vocab] and features [n, hidden] of every row. */
export interface ReferenceOutput {
  readonly logits: Float64Array;
  readonly features: Float64Array;
}

type Vec = Float64Array;

function get(weights: Weights, name: string): Float32Array | undefined {
  return weights.get(name);
}

function linear(x: Vec, w: Float32Array, rows: number, cols: number, bias?: Float32Array): Vec {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = bias ? bias[r]! : 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[c]!;
    y[r] = s;
  }
  return y;
}

function rmsNorm(x: Vec, w: Float32Array, eps: number): Vec {
  let ss = 0;
  for (const v of x) ss += v * v;
  const inv = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * inv * w[i]!);
}

function rotate(x: Vec, position: number, dims: ReferenceDims): Vec {
  const d = dims.headDim;
  const inv = ropeInverseFrequencies(dims.rope, d);
  const scale = ropeAttentionFactor(dims.rope);
  const out = new Float64Array(d);
  for (let j = 0; j < d / 2; j++) {
    const angle = Math.fround(position * inv[j]!);
    const c = Math.cos(angle) * scale;
    const s = Math.sin(angle) * scale;
    out[j] = x[j]! * c - x[j + d / 2]! * s;
    out[j + d / 2] = x[j + d / 2]! * c + x[j]! * s;
  }
  return out;
}

/**
 * Runs the decoder layers over `inputs` (already embedded rows) with `visible(i, j)` saying
 * whether row i attends to row j; `prefix` is where the layer tensors live and `inputNorm`
 * whether layers have an input norm (EAGLE heads' single layer has none).
 */
export function referenceLayers(
  weights: Weights,
  dims: ReferenceDims,
  inputs: Vec[],
  positions: readonly number[],
  visible: (i: number, j: number) => boolean,
  prefix: string,
  inputNorm: boolean,
): Vec[] {
  const { hidden: h, heads, kvHeads, headDim: d, intermediate: m, eps } = dims;
  const group = heads / kvHeads;
  let xs = inputs;
  const n = xs.length;
  for (let l = 0; l < dims.layers; l++) {
    const p = `${prefix}layers.${l}.`;
    const w = (name: string) => get(weights, `${p}${name}`);
    const qs: Vec[][] = [];
    const ks: Vec[][] = [];
    const vs: Vec[][] = [];
    for (let i = 0; i < n; i++) {
      const a = inputNorm ? rmsNorm(xs[i]!, w('input_layernorm.weight')!, eps) : xs[i]!;
      const q = linear(a, w('self_attn.q_proj.weight')!, heads * d, h, w('self_attn.q_proj.bias'));
      const k = linear(a, w('self_attn.k_proj.weight')!, kvHeads * d, h, w('self_attn.k_proj.bias'));
      const v = linear(a, w('self_attn.v_proj.weight')!, kvHeads * d, h, w('self_attn.v_proj.bias'));
      const split = (x: Vec, count: number, norm?: Float32Array) =>
        Array.from({ length: count }, (_, hh) => {
          const head = x.slice(hh * d, (hh + 1) * d);
          return rotate(norm ? rmsNorm(head, norm, eps) : head, positions[i]!, dims);
        });
      qs.push(split(q, heads, w('self_attn.q_norm.weight')));
      ks.push(split(k, kvHeads, w('self_attn.k_norm.weight')));
      vs.push(Array.from({ length: kvHeads }, (_, hh) => v.slice(hh * d, (hh + 1) * d)));
    }
    const next: Vec[] = [];
    for (let i = 0; i < n; i++) {
      const ctx = new Float64Array(heads * d);
      for (let hh = 0; hh < heads; hh++) {
        const kv = Math.floor(hh / group);
        const scores: number[] = [];
        const js: number[] = [];
        for (let j = 0; j < n; j++) {
          if (!visible(i, j)) continue;
          let s = 0;
          for (let t = 0; t < d; t++) s += qs[i]![hh]![t]! * ks[j]![kv]![t]!;
          scores.push(s / Math.sqrt(d));
          js.push(j);
        }
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const total = e.reduce((a, b) => a + b, 0);
        js.forEach((j, idx) => {
          for (let t = 0; t < d; t++) ctx[hh * d + t]! += (e[idx]! / total) * vs[j]![kv]![t]!;
        });
      }
      const attn = linear(ctx, w('self_attn.o_proj.weight')!, h, heads * d, w('self_attn.o_proj.bias'));
      const r = xs[i]!.map((x, k) => x + attn[k]!);
      const a2 = rmsNorm(r, w('post_attention_layernorm.weight')!, eps);
      const gate = linear(a2, w('mlp.gate_proj.weight')!, m, h, w('mlp.gate_proj.bias'));
      const up = linear(a2, w('mlp.up_proj.weight')!, m, h, w('mlp.up_proj.bias'));
      const act = gate.map((g, k) => (g / (1 + Math.exp(-g))) * up[k]!);
      const down = linear(act, w('mlp.down_proj.weight')!, h, m, w('mlp.down_proj.bias'));
      next.push(r.map((x, k) => x + down[k]!));
    }
    xs = next;
  }
  return xs;
}

/** Full forward of a causal LM over `tokens` at `positions` under the visibility rule. */
export function referenceCausalLM(
  weights: Weights,
  dims: ReferenceDims,
  tokens: readonly number[],
  positions: readonly number[],
  visible: (i: number, j: number) => boolean,
): ReferenceOutput {
  const { hidden: h, vocab } = dims;
  const embed = weights.get('model.embed_tokens.weight')!;
  const inputs = tokens.map((t) => Float64Array.from(embed.subarray(t * h, (t + 1) * h)));
  const xs = referenceLayers(weights, dims, inputs, positions, visible, 'model.', true);
  const lmHead = dims.tie ? embed : weights.get('lm_head.weight')!;
  const n = tokens.length;
  const logits = new Float64Array(n * vocab);
  const features = new Float64Array(n * h);
  xs.forEach((x, i) => {
    const f = rmsNorm(x, weights.get('model.norm.weight')!, dims.eps);
    features.set(f, i * h);
    logits.set(linear(f, lmHead, vocab, h), i * vocab);
  });
  return { logits, features };
}

/** Full forward of an EAGLE-1/2 head: rows (token, feature), fc, one layer without input norm, target lm_head. */
export function referenceEagleHead(
  head: Weights,
  lmHead: Float32Array,
  embedding: Float32Array,
  dims: ReferenceDims,
  tokens: readonly number[],
  features: Float64Array | Float32Array,
  positions: readonly number[],
  visible: (i: number, j: number) => boolean,
): { hidden: Float64Array; logits: Float64Array } {
  const { hidden: h, vocab } = dims;
  const inputs = tokens.map((t, i) => {
    const joined = new Float64Array(2 * h);
    joined.set(embedding.subarray(t * h, (t + 1) * h));
    joined.set(features.subarray(i * h, (i + 1) * h), h);
    return linear(joined, head.get('fc.weight')!, h, 2 * h, head.get('fc.bias'));
  });
  const xs = referenceLayers(head, { ...dims, layers: 1 }, inputs, positions, visible, '', false);
  const hidden = new Float64Array(tokens.length * h);
  const logits = new Float64Array(tokens.length * vocab);
  xs.forEach((x, i) => {
    hidden.set(x, i * h);
    logits.set(linear(x, lmHead, vocab, h), i * vocab);
  });
  return { hidden, logits };
}
