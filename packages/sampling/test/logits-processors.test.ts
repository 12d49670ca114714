import { argmax, NumericError, Xoshiro128 } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import {
  applyMinP,
  applyPresenceFrequencyPenalty,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  checkedArgmax,
  checkLogits,
  LogitsPipeline,
  logSoftmaxInto,
  resolveSampling,
  softmaxInto,
  TokenCounts,
} from '../src/index.js';

const row = (...v: number[]) => Float32Array.from(v);
const probsOf = (logits: Float32Array) => {
  const out = new Float64Array(logits.length);
  softmaxInto(logits, 0, logits.length, out);
  return Array.from(out);
};

describe('logits processors (in place, float32 rows)', () => {
  it('divides by the temperature', () => {
    const l = row(1, 2, -4);
    applyTemperature(l, 0, 3, 0.5);
    expect(Array.from(l)).toEqual([2, 4, -8]);
  });

  it('keeps the k largest and anything tied with the k-th', () => {
    const l = row(0.5, 3, 1, 3, 2, 1);
    applyTopK(l, 0, 6, 3, new Float32Array(6));
    expect(Array.from(l)).toEqual([-Infinity, 3, -Infinity, 3, 2, -Infinity]);
    const tie = row(1, 2, 2, 0);
    applyTopK(tie, 0, 4, 1, new Float32Array(4));
    expect(Array.from(tie)).toEqual([-Infinity, 2, 2, -Infinity]);
  });

  it('keeps the smallest nucleus reaching p', () => {
    // probabilities 0.5, 0.25, 0.125, 0.125 (logits are their logs)
    const l = row(Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125));
    applyTopP(l, 0, 4, 0.7, new Float64Array(4), new Float64Array(4));
    expect(probsOf(l).map((p) => +p.toFixed(6))).toEqual([0.666667, 0.333333, 0, 0]);
    const all = row(Math.log(0.5), Math.log(0.25), Math.log(0.125), Math.log(0.125));
    applyTopP(all, 0, 4, 0.8, new Float64Array(4), new Float64Array(4));
    // 0.5 + 0.25 < 0.8, so the first 0.125 is needed, and its tie comes along.
    expect(probsOf(all).filter((p) => p > 0).length).toBe(4);
  });

  it('drops tokens below min-p times the top probability', () => {
    const l = row(Math.log(0.6), Math.log(0.3), Math.log(0.07), Math.log(0.03));
    applyMinP(l, 0, 4, 0.1);
    expect(probsOf(l).map((p) => +p.toFixed(4))).toEqual([0.6186, 0.3093, 0.0722, 0]);
  });

  it('penalises repeated tokens CTRL-style and subtracts presence and frequency penalties', () => {
    const counts = new TokenCounts(4);
    for (const t of [1, 2, 2]) counts.add(t);
    const l = row(1, 2, -2, 3);
    applyRepetitionPenalty(l, 0, counts, 2);
    expect(Array.from(l)).toEqual([1, 1, -4, 3]);
    applyPresenceFrequencyPenalty(l, 0, counts, 0.5, 0.25);
    expect(Array.from(l)).toEqual([1, 0.25, -5, 3]);
    counts.remove(2);
    counts.remove(2);
    expect(counts.distinctCount).toBe(1);
  });

  it('computes softmax and log-softmax stably for huge logits (1e-12 absolute, double precision)', () => {
    const l = row(1000, 1001, -Infinity);
    const p = new Float64Array(3);
    softmaxInto(l, 0, 3, p);
    expect(p[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(p[2]).toBe(0);
    logSoftmaxInto(l, 0, 3, p);
    expect(p[0]).toBeCloseTo(-Math.log(1 + Math.exp(1)), 12);
  });

  it('rejects NaN, +Infinity and all -Infinity rows, naming token and position', () => {
    expect(() => checkLogits(row(0, Number.NaN), 0, 2, 17)).toThrow(NumericError);
    expect(() => checkLogits(row(0, Number.NaN), 0, 2, 17)).toThrow(
      'target logit of token 1 at sequence position 17 is NaN',
    );
    expect(() => checkLogits(row(Infinity, 0), 0, 2, 3)).toThrow(
      /token 0 at sequence position 3 is Infinity/,
    );
    expect(() => checkLogits(row(-Infinity, -Infinity), 0, 2, 5)).toThrow(
      /every target logit at sequence position 5/,
    );
    expect(() => checkLogits(row(-Infinity, 0), 0, 2, 5)).not.toThrow();
  });

  it('finds the greedy token while checking the row, as argmax after checkLogits does in two passes', () => {
    const rng = new Xoshiro128(21);
    const size = 64;
    for (let trial = 0; trial < 500; trial++) {
      // Few distinct values, so that ties are common; some masked tokens, now and then a bad one.
      const l = Float32Array.from({ length: size }, () => Math.floor(rng.nextFloat() * 6) - 3);
      for (let i = 0; i < size; i++) if (rng.nextFloat() < 0.3) l[i] = -Infinity;
      if (trial % 5 === 0) l[Math.floor(rng.nextFloat() * size)] = trial % 10 === 0 ? Number.NaN : Infinity;
      if (trial % 50 === 1) l.fill(-Infinity);
      const twoPasses = () => {
        checkLogits(l, 0, size, trial);
        return argmax(l, 0, size);
      };
      let expected: unknown;
      try {
        expected = twoPasses();
      } catch (e) {
        expected = (e as Error).message;
      }
      let fused: unknown;
      try {
        fused = checkedArgmax(l, 0, size, trial);
      } catch (e) {
        expect(e).toBeInstanceOf(NumericError);
        fused = (e as Error).message;
      }
      expect(fused).toEqual(expected);
    }
  });

  it('gives with a temperature alone exactly the row and distribution that shaping then a softmax give', () => {
    const rng = new Xoshiro128(22);
    for (const temperature of [1, 0.7, 1.3, 0.05]) {
      const pipeline = new LogitsPipeline(256, resolveSampling({ temperature }));
      for (let trial = 0; trial < 50; trial++) {
        const l = Float32Array.from({ length: 256 }, () => 20 * (rng.nextFloat() - 0.5));
        for (let i = 0; i < 256; i += 7) l[i] = -Infinity;
        const shaped = l.slice();
        checkLogits(shaped, 0, 256, 0);
        applyTemperature(shaped, 0, 256, temperature);
        const expected = new Float64Array(256);
        softmaxInto(shaped, 0, 256, expected);
        const p = new Float64Array(256);
        pipeline.distribution(l, 0, 0, p);
        expect(l).toEqual(shaped);
        expect(p).toEqual(expected);
      }
    }
  });

  it('composes in the documented order: penalties, temperature, top-k, top-p, min-p', () => {
    const sampling = resolveSampling({
      temperature: 0.5,
      topK: 3,
      topP: 0.99,
      minP: 0.2,
      repetitionPenalty: 2,
    });
    const pipeline = new LogitsPipeline(5, sampling);
    pipeline.penalties?.sync(Int32Array.from([0]), 1, 1);
    const l = row(4, 3, 2, 1, 0);
    const p = new Float64Array(5);
    pipeline.distribution(l, 0, 0, p);
    // token 0: 4 / 2 = 2 (penalty), then / 0.5 = 4; token 1: 6; token 2: 4; tokens 3, 4: out by top-k.
    // min-p 0.2: e^(4-6) = 0.135 < 0.2, so tokens 0 and 2 go too.
    expect(Array.from(p)).toEqual([0, 1, 0, 0, 0]);
  });
});

describe('sampling options', () => {
  it('reject out-of-range values with errors that name the option and the allowed range', () => {
    expect(() => resolveSampling({ temperature: -0.1 })).toThrow(
      'option "temperature" must be a finite number >= 0 (0 means greedy); got -0.1',
    );
    expect(() => resolveSampling({ temperature: Number.NaN })).toThrow(/"temperature"/);
    expect(() => resolveSampling({ topP: 0 })).toThrow(
      'option "topP" must be a finite number > 0 and <= 1; got 0',
    );
    expect(() => resolveSampling({ topP: 1.5 })).toThrow(/"topP".*1.5/);
    expect(() => resolveSampling({ topK: -1 })).toThrow('option "topK" must be an integer >= 0; got -1');
    expect(() => resolveSampling({ minP: 2 })).toThrow(/"minP"/);
    expect(() => resolveSampling({ repetitionPenalty: 0 })).toThrow(/"repetitionPenalty"/);
    expect(() => resolveSampling({ seed: -3 })).toThrow(/"seed"/);
  });

  it('fill in the documented defaults', () => {
    expect(resolveSampling()).toEqual({
      temperature: 1,
      topK: 0,
      topP: 1,
      minP: 0,
      repetitionPenalty: 1,
      presencePenalty: 0,
      frequencyPenalty: 0,
      seed: 0,
    });
  });
});
