import { CheckpointError } from './errors.js';

/** A RoPE scheme whose frequencies do not depend on the sequence length, so they fit fixed tables. */
export type RopeConfig =
  | { readonly type: 'default'; readonly theta: number }
  | { readonly type: 'linear'; readonly theta: number; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly theta: number;
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositions: number;
    }
  | {
      readonly type: 'yarn';
      readonly theta: number;
      readonly factor: number;
      readonly originalMaxPositions: number;
      readonly betaFast: number;
      readonly betaSlow: number;
      readonly attentionFactor: number;
      readonly truncate: boolean;
    };

/** Parameters of a RoPE config other than type and theta, as recorded in the manifest. */
export function ropeParameters(rope: RopeConfig): Record<string, number> {
  const { type: _type, theta: _theta, ...rest } = rope;
  return Object.fromEntries(
    Object.entries(rest).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : (v as number)]),
  );
}

/**
 * Reads the RoPE settings of a Hugging Face config, from `rope_scaling` + `rope_theta`
 * (transformers 4) or `rope_parameters` (transformers 5). Supported: default, linear, llama3 and
 * yarn; dynamic NTK and longrope depend on the sequence length and are rejected.
 * @throws CheckpointError `unsupported-config` naming the file and the rope type.
 */
export function parseRope(config: Record<string, unknown>, file: string, maxPositions: number): RopeConfig {
  const params = (config.rope_parameters ?? config.rope_scaling ?? null) as Record<string, unknown> | null;
  const theta = Number(params?.rope_theta ?? config.rope_theta ?? 10000);
  const bad = (message: string) => new CheckpointError('unsupported-config', file, message);
  if (!Number.isFinite(theta) || theta <= 1) throw bad(`rope_theta must be a number > 1; found ${theta}`);
  const type = String(params?.rope_type ?? params?.type ?? 'default');
  const num = (key: string, fallback?: number): number => {
    const value = params?.[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw bad(`rope scaling "${type}" needs a number "${key}"; found ${JSON.stringify(value)}`);
    }
    return value;
  };
  const partial = params?.partial_rotary_factor ?? config.partial_rotary_factor;
  if (partial !== undefined && partial !== 1 && partial !== 1.0) {
    throw bad(`partial_rotary_factor ${partial} is not supported; only full rotary embeddings (1.0) are`);
  }
  switch (type) {
    case 'default':
      return { type, theta };
    case 'linear':
      return { type, theta, factor: num('factor') };
    case 'llama3':
      return {
        type,
        theta,
        factor: num('factor'),
        lowFreqFactor: num('low_freq_factor'),
        highFreqFactor: num('high_freq_factor'),
        originalMaxPositions: num('original_max_position_embeddings'),
      };
    case 'yarn': {
      const factor = num('factor');
      const mscale = params?.mscale as number | undefined;
      const mscaleAllDim = params?.mscale_all_dim as number | undefined;
      const attentionFactor =
        typeof params?.attention_factor === 'number'
          ? params.attention_factor
          : mscale && mscaleAllDim
            ? yarnMscale(factor, mscale) / yarnMscale(factor, mscaleAllDim)
            : yarnMscale(factor, 1);
      return {
        type,
        theta,
        factor,
        originalMaxPositions: num('original_max_position_embeddings', maxPositions),
        betaFast: num('beta_fast', 32),
        betaSlow: num('beta_slow', 1),
        attentionFactor,
        truncate: params?.truncate !== false,
      };
    }
    default:
      throw bad(
        `rope scaling type "${type}" is not supported (supported: default, linear, llama3, yarn; ` +
          'dynamic and longrope change with the sequence length and cannot be baked into tables)',
      );
  }
}

function yarnMscale(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : 0.1 * mscale * Math.log(scale) + 1;
}

/**
 * The inverse frequencies of the `headDim / 2` rotary pairs, rounded to float32 as PyTorch
 * computes them.
 */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const base = new Float32Array(half);
  for (let i = 0; i < half; i++) base[i] = 1 / Math.fround(rope.theta ** Math.fround((2 * i) / headDim));
  switch (rope.type) {
    case 'default':
      return base;
    case 'linear':
      return base.map((f) => f / rope.factor);
    case 'llama3': {
      const lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
      const highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
      return base.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen > lowWavelen) return f / rope.factor;
        if (wavelen < highWavelen) return f;
        const smooth =
          (rope.originalMaxPositions / wavelen - rope.lowFreqFactor) /
          (rope.highFreqFactor - rope.lowFreqFactor);
        return (1 - smooth) * (f / rope.factor) + smooth * f;
      });
    }
    case 'yarn': {
      const correction = (rotations: number) =>
        (headDim * Math.log(rope.originalMaxPositions / (rotations * 2 * Math.PI))) /
        (2 * Math.log(rope.theta));
      let low = correction(rope.betaFast);
      let high = correction(rope.betaSlow);
      if (rope.truncate) {
        low = Math.floor(low);
        high = Math.ceil(high);
      }
      low = Math.max(low, 0);
      high = Math.min(high, headDim - 1);
      if (low === high) high += 0.001;
      return base.map((f, i) => {
        const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
        const extrapolation = 1 - ramp;
        return (f / rope.factor) * (1 - extrapolation) + f * extrapolation;
      });
    }
  }
}

/** Scale applied to cos and sin (yarn's attention factor; 1 otherwise). */
export function ropeAttentionFactor(rope: RopeConfig): number {
  return rope.type === 'yarn' ? rope.attentionFactor : 1;
}

/**
 * Cos and sin tables of shape [positions, headDim] in the rotate-half convention: column j and
 * j + headDim/2 share frequency j. Angles are rounded to float32 first, as PyTorch computes them.
 */
export function ropeTables(
  rope: RopeConfig,
  headDim: number,
  positions: number,
): { cos: Float32Array; sin: Float32Array } {
  const inv = ropeInverseFrequencies(rope, headDim);
  const scale = ropeAttentionFactor(rope);
  const half = headDim / 2;
  const cos = new Float32Array(positions * headDim);
  const sin = new Float32Array(positions * headDim);
  for (let p = 0; p < positions; p++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(p * inv[j]!);
      const c = Math.cos(angle) * scale;
      const s = Math.sin(angle) * scale;
      const row = p * headDim;
      cos[row + j] = c;
      cos[row + j + half] = c;
      sin[row + j] = s;
      sin[row + j + half] = s;
    }
  }
  return { cos, sin };
}
