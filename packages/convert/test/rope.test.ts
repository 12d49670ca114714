import { describe, expect, it } from 'vitest';
import {
  CheckpointError,
  parseRope,
  ropeAttentionFactor,
  ropeInverseFrequencies,
  ropeTables,
} from '../src/index.js';

const plain = (theta: number, d: number) =>
  Array.from({ length: d / 2 }, (_, i) => 1 / theta ** ((2 * i) / d));

describe('RoPE settings', () => {
  it('reads rope_theta with rope_scaling (transformers 4) and rope_parameters (transformers 5)', () => {
    expect(parseRope({ rope_theta: 500000, rope_scaling: null }, 'c.json', 2048)).toEqual({
      type: 'default',
      theta: 500000,
    });
    expect(
      parseRope({ rope_parameters: { rope_type: 'linear', rope_theta: 1e6, factor: 4 } }, 'c.json', 2048),
    ).toEqual({
      type: 'linear',
      theta: 1e6,
      factor: 4,
    });
  });

  it('uses the default frequencies 1 / theta^(2i/d)', () => {
    const f = ropeInverseFrequencies({ type: 'default', theta: 10000 }, 64);
    for (const [i, v] of plain(10000, 64).entries()) expect(f[i]).toBeCloseTo(v, 6);
  });

  it('divides every frequency by the factor for linear scaling', () => {
    const f = ropeInverseFrequencies({ type: 'linear', theta: 10000, factor: 4 }, 16);
    for (const [i, v] of plain(10000, 16).entries()) expect(f[i]).toBeCloseTo(v / 4, 6);
  });

  it('keeps high frequencies, divides low ones and blends between them for llama3 scaling', () => {
    const rope = parseRope(
      {
        rope_theta: 500000,
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 8192,
        },
      },
      'c.json',
      131072,
    );
    const f = ropeInverseFrequencies(rope, 128);
    const base = plain(500000, 128);
    const wavelen = base.map((v) => (2 * Math.PI) / v);
    const classes = { high: 0, low: 0, mid: 0 };
    base.forEach((v, i) => {
      if (wavelen[i]! < 8192 / 4) {
        expect(f[i]).toBeCloseTo(v, 7);
        classes.high++;
      } else if (wavelen[i]! > 8192) {
        expect(f[i]! / (v / 8)).toBeCloseTo(1, 5);
        classes.low++;
      } else {
        expect(f[i]!).toBeGreaterThan(v / 8);
        expect(f[i]!).toBeLessThan(v);
        classes.mid++;
      }
    });
    expect(classes).toEqual({ high: 29, low: 29, mid: 6 });
  });

  it('applies yarn: extrapolate fast dimensions, interpolate slow ones, scale by 0.1 ln(factor) + 1', () => {
    const rope = parseRope(
      { rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 4096 } },
      'c.json',
      16384,
    );
    expect(ropeAttentionFactor(rope)).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    const f = ropeInverseFrequencies(rope, 64);
    const base = plain(10000, 64);
    expect(f[0]).toBeCloseTo(base[0]!, 7);
    expect(f[31]! / (base[31]! / 4)).toBeCloseTo(1, 5);
    const { cos } = ropeTables(rope, 64, 2);
    expect(cos[0]).toBeCloseTo(ropeAttentionFactor(rope), 6);
  });

  it('lays tables out rotate-half style: column j and j + d/2 share a frequency', () => {
    const { cos, sin } = ropeTables({ type: 'default', theta: 10000 }, 8, 3);
    for (let j = 0; j < 4; j++) {
      expect(cos[2 * 8 + j]).toBe(cos[2 * 8 + j + 4]);
      expect(sin[2 * 8 + j]).toBeCloseTo(Math.sin(2 * (1 / 10000 ** (j / 4))), 6);
    }
  });

  it.each([
    [{ rope_scaling: { type: 'longrope', factor: 2 } }, 'rope scaling type "longrope" is not supported'],
    [
      { rope_scaling: { rope_type: 'llama3', factor: 8 } },
      'rope scaling "llama3" needs a number "low_freq_factor"; found undefined',
    ],
    [{ partial_rotary_factor: 0.5 }, 'partial_rotary_factor 0.5 is not supported'],
  ])('rejects %j with a typed error naming the config', (config, message) => {
    try {
      parseRope(config, 'model/config.json', 2048);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as CheckpointError).message).toContain(`model/config.json: ${message}`);
    }
  });
});
