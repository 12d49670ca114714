import { ContractError, OptionError, StaticTreeGrowth, StaticTreeShape } from '@treespec/core';
import { chiSquareTest } from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { DraftSampler } from '../src/index.js';

/** A vocabulary of 10 target tokens, of which the draft vocabulary keeps 4, in this order. */
const VOCAB = 10;
const DRAFT_IDS = Int32Array.of(7, 2, 9, 4);
/** Two rows of logits over the 4 draft tokens. */
const LOGITS = Float32Array.of(1, 0, -1, 2, 0.5, 3, 0.25, -2);

function sampler(temperature?: number, seed = 11, ids: Int32Array | null = DRAFT_IDS): DraftSampler {
  // Three children at the root, so a node takes up to three draws.
  const growth = new StaticTreeGrowth(new StaticTreeShape([[0, 0], [1], [2]]));
  return new DraftSampler(
    { ...(temperature === undefined ? {} : { temperature }), seed },
    growth,
    VOCAB,
    ids,
  );
}

/** softmax(row / temperature) in float64, by draft id. */
function softmax(row: ArrayLike<number>, temperature: number): number[] {
  const e = Array.from(row, (l) => Math.exp(l / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

describe('DraftSampler over a reduced draft vocabulary', () => {
  it('writes q of each draft token at its target id and leaves every other token at 0', () => {
    const s = sampler(0.5);
    s.setDistribution(1, LOGITS, 1);
    const q = Array.from(s.distributions.subarray(VOCAB, 2 * VOCAB));
    const expected = softmax(LOGITS.subarray(4, 8), 0.5);
    const want = new Array<number>(VOCAB).fill(0);
    DRAFT_IDS.forEach((id, d) => {
      want[id] = expected[d]!;
    });
    for (let t = 0; t < VOCAB; t++) expect(q[t]).toBeCloseTo(want[t]!, 6);
    expect(s.logProbability(1, 2)).toBeCloseTo(Math.log(expected[1]!), 5);
    expect(s.logProbability(1, 3)).toBe(-Infinity);
    // Node 0 was never set: the row stays all zero.
    expect(Array.from(s.distributions.subarray(0, VOCAB))).toEqual(new Array(VOCAB).fill(0));
  });

  it('draws target ids of draft tokens only, with the frequencies of q (chi-square, alpha 1e-3)', () => {
    const s = sampler(1);
    const draws = 20000;
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      s.setDistribution(0, LOGITS, 0);
      const token = String(s.draw(0));
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    const q = softmax(LOGITS.subarray(0, 4), 1);
    const expected = new Map(Array.from(DRAFT_IDS, (id, d) => [String(id), q[d]!] as const));
    expect([...counts.keys()].sort()).toEqual(['2', '4', '7', '9']);
    expect(chiSquareTest(counts, expected, draws).pValue).toBeGreaterThan(1e-3);
  });

  it('draws a node’s children without replacement: ordered pairs with the frequencies of q, then q without the first (chi-square, alpha 1e-3)', () => {
    const s = sampler(1);
    const q = softmax(LOGITS.subarray(0, 4), 1);
    const expected = new Map<string, number>();
    DRAFT_IDS.forEach((a, i) => {
      DRAFT_IDS.forEach((b, j) => {
        if (i !== j) expected.set(`${a},${b}`, (q[i]! * q[j]!) / (1 - q[i]!));
      });
    });
    const draws = 20000;
    const counts = new Map<string, number>();
    for (let i = 0; i < draws; i++) {
      s.setDistribution(0, LOGITS, 0);
      const key = `${s.draw(0)},${s.draw(0)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.keys()].every((k) => expected.has(k))).toBe(true);
    expect(chiSquareTest(counts, expected, draws).pValue).toBeGreaterThan(1e-3);
  });

  it('stops drawing, with -1, once the tokens q can draw are all drawn', () => {
    // At temperature 0.002 only the largest logit’s token keeps a q above 0 in float32.
    const s = sampler(0.002);
    s.setDistribution(0, LOGITS, 0);
    expect(s.draw(0)).toBe(4);
    expect(s.draw(0)).toBe(-1);
    expect(() => s.draw(1)).toThrow(ContractError);
  });

  it('gives the q a full-vocabulary sampler gives for the draft logits spread over the vocabulary', () => {
    const reduced = sampler(0.7, 5);
    const full = sampler(0.7, 5, null);
    const spread = new Float32Array(VOCAB).fill(-Infinity);
    DRAFT_IDS.forEach((id, d) => {
      spread[id] = LOGITS[d]!;
    });
    reduced.setDistribution(0, LOGITS, 0);
    full.setDistribution(0, spread, 0);
    for (let t = 0; t < VOCAB; t++) expect(reduced.distributions[t]).toBeCloseTo(full.distributions[t]!, 6);
  });

  it('takes each generation’s temperature from restart, 1 without one, unless a fixed one was configured', () => {
    /** Checks that `s` sets q of a node to softmax(row 0 / temperature). */
    const expectDrawsAt = (s: DraftSampler, temperature: number) => {
      s.setDistribution(0, LOGITS, 0);
      const want = softmax(LOGITS.subarray(0, 4), temperature);
      for (const [d, id] of DRAFT_IDS.entries()) expect(s.distributions[id]).toBeCloseTo(want[d]!, 6);
    };
    const following = sampler();
    following.restart(3, 0.4);
    expectDrawsAt(following, 0.4);
    following.restart(3);
    expectDrawsAt(following, 1);
    const fixed = sampler(0.7);
    fixed.restart(3, 0.4);
    expectDrawsAt(fixed, 0.7);
    expect(() => following.restart(3, 0)).toThrow(OptionError);
  });

  it('takes q at temperature 1 from the model’s probabilities as from its logits, renormalised', () => {
    const fromLogits = sampler();
    const fromProbabilities = sampler();
    expect(fromProbabilities.unitTemperature).toBe(true);
    fromLogits.setDistribution(1, LOGITS, 1);
    // The model's float32 softmax, off by a rounding: q sums to 1 all the same.
    const probabilities = Float32Array.from([
      ...softmax(LOGITS.subarray(0, 4), 1),
      ...softmax(LOGITS.subarray(4, 8), 1),
    ]);
    probabilities[5] = probabilities[5]! * (1 + 1e-6);
    fromProbabilities.setProbabilities(1, probabilities, 1);
    const q = fromProbabilities.distributions.subarray(VOCAB, 2 * VOCAB);
    for (let t = 0; t < VOCAB; t++) expect(q[t]).toBeCloseTo(fromLogits.distributions[VOCAB + t]!, 6);
    expect(q.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(fromProbabilities.support).toBe(DRAFT_IDS);
    const tempered = sampler(0.5);
    expect(tempered.unitTemperature).toBe(false);
    expect(() => tempered.setProbabilities(0, probabilities, 0)).toThrow(
      /distribution at temperature 1; q is drawn at 0.5/,
    );
  });

  it('takes q over the columns the model names, which become its support, clearing a row’s entries off them', () => {
    const s = sampler();
    // The draft tokens, then two tokens of the context (a head that scores them beside its draft vocabulary).
    const wide = Int32Array.of(...DRAFT_IDS, 0, 5);
    const probabilities = Float32Array.of(0.1, 0.2, 0.05, 0.15, 0.3, 0.2);
    s.setProbabilities(0, probabilities, 0, wide);
    expect(s.support).toBe(wide);
    const q = () => Array.from(s.distributions.subarray(0, VOCAB), (x) => Number(x.toFixed(6)));
    expect(q()).toEqual([0.3, 0, 0.2, 0, 0.15, 0.2, 0, 0.1, 0, 0.05]);
    const drawn = new Set<number>();
    for (let i = 0; i < 200; i++) {
      s.setProbabilities(0, probabilities, 0, wide);
      drawn.add(s.draw(0));
    }
    expect([...drawn].sort((a, b) => a - b)).toEqual([0, 2, 4, 5, 7, 9]);
    // The context changed: token 5 left it, token 1 came in; q is 0 off the new columns.
    const changed = Int32Array.of(...DRAFT_IDS, 0, 1);
    s.setProbabilities(0, probabilities, 0, changed);
    expect(q()).toEqual([0.3, 0.2, 0.2, 0, 0.15, 0, 0, 0.1, 0, 0.05]);
    // Columns that repeat a token or leave the vocabulary are refused, naming the column.
    expect(() => s.setProbabilities(0, probabilities, 0, Int32Array.of(...DRAFT_IDS, 0, 7))).toThrow(
      'draft token 5 maps to target id 7, which is taken by another draft token',
    );
    expect(() => s.setProbabilities(0, probabilities, 0, Int32Array.of(...DRAFT_IDS, 0, 10))).toThrow(
      'draft token 5 maps to target id 10, which is outside the vocabulary [0, 10)',
    );
    s.setProbabilities(0, probabilities, 0, changed);
    expect(q()).toEqual([0.3, 0.2, 0.2, 0, 0.15, 0, 0, 0.1, 0, 0.05]);
    // Back to the draft tokens' logits: q over them alone again.
    s.setDistribution(0, LOGITS, 0);
    expect(s.support).toBe(DRAFT_IDS);
    expect(s.distributions[0]).toBe(0);
    expect(s.distributions[1]).toBe(0);
  });

  it('refuses draft token ids that repeat or fall outside the vocabulary, naming the draft token', () => {
    expect(() => sampler(1, 0, Int32Array.of(3, 1, 3))).toThrow(ContractError);
    expect(() => sampler(1, 0, Int32Array.of(3, 1, 3))).toThrow(
      'draft token 2 maps to target id 3, which is taken by another draft token',
    );
    expect(() => sampler(1, 0, Int32Array.of(0, 10))).toThrow(
      'draft token 1 maps to target id 10, which is outside the vocabulary [0, 10)',
    );
  });
});
