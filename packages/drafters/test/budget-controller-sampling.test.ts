import {
  DynamicTreeGrowth,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
} from '@treespec/core';
import { chiSquareTest, ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { StochasticVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget } from './clocked-toy.js';

/**
 * Sampling through a budget controller that switches trees mid-generation must still give exactly
 * the target's distribution. The distribution of the first LENGTH tokens is computed exactly from
 * the toy model; SAMPLES generations with distinct seeds are compared with Pearson's chi-square.
 * False-alarm rate: ALPHA = 1e-3 per test with fixed seeds (reproducible).
 */
const VOCAB = 8;
const LENGTH = 3;
const SAMPLES = 12000;
const ALPHA = 1e-3;
const PROMPT = [1, 4];
const TEMPERATURE = 0.9;

const model = new ToyLanguageModel({ vocabSize: VOCAB, order: 2, seed: 21, sharpness: 1.6 });

function exactDistribution(): Map<string, number> {
  const logits = new Float32Array(VOCAB);
  const out = new Map<string, number>();
  const expand = (seq: number[], p: number): void => {
    if (seq.length === PROMPT.length + LENGTH) {
      out.set(seq.slice(PROMPT.length).join(','), p);
      return;
    }
    model.logits(seq, seq.length, logits, 0);
    let max = -Infinity;
    for (const l of logits) max = Math.max(max, l / TEMPERATURE);
    const e = Array.from(logits, (l) => Math.exp(l / TEMPERATURE - max));
    const sum = e.reduce((a, b) => a + b, 0);
    for (let t = 0; t < VOCAB; t++) expand([...seq, t], (p * e[t]) / sum);
  };
  expand([...PROMPT], 1);
  return out;
}

async function sample(growth: TreeGrowth, drafterSample?: { temperature: number; seed: number }) {
  const clock = new Clock();
  // Costs jump at random from step to step, so the controller keeps changing its tree.
  let state = 12345;
  const target = new ClockedTarget(new ToyTarget(model), clock, {
    verify: (n) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return 4 + (state % 5) * (n - 1) * 0.8;
    },
    draftCall: 0.3,
  });
  const inner = new ToyDrafter({
    target: target.inner,
    growth,
    quality: { kind: 'mixed', noise: 0.4 },
    sample: drafterSample,
  });
  const controller = new BudgetController(
    { drafter: new ClockedDrafter(inner, target), growth },
    // Probes come after one or two plain steps and may lose as much time as plain steps take, so
    // the choice keeps changing.
    { clock: clock.read, probeEvery: 1, maxPlainRun: 2, probeShare: 1 },
  );
  const verifier = new StochasticVerifier({ temperature: TEMPERATURE });
  const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
  const counts = new Map<string, number>();
  const choices = new Set<string>();
  let switches = 0;
  for (let i = 0; i < SAMPLES; i++) {
    verifier.setSeed(5000 + i);
    let previous = '';
    const r = await decoder.generate(PROMPT, {
      maxTokens: LENGTH,
      onStep: () => {
        const c = `${controller.lastChoice.depth}/${controller.lastChoice.nodes}`;
        if (previous !== '' && c !== previous) switches++;
        previous = c;
        choices.add(c);
      },
    });
    const key = Array.from(r.tokens).join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return { counts, choices, switches };
}

describe('sampling through a budget controller that switches trees mid-generation (chi-square, alpha 1e-3)', () => {
  it('matches plain sampling with top-k trees', async () => {
    const { counts, choices, switches } = await sample(
      new DynamicTreeGrowth({ topK: 3, frontier: 2, depth: 3, totalTokens: 11 }),
    );
    const test = chiSquareTest(counts, exactDistribution(), SAMPLES);
    expect(choices.size).toBeGreaterThanOrEqual(4);
    expect(choices).toContain('0/0');
    expect(switches).toBeGreaterThan(SAMPLES / 20);
    expect(test.degreesOfFreedom).toBeGreaterThan(10);
    expect(test.pValue).toBeGreaterThan(ALPHA);
  }, 120_000);

  it('matches plain sampling with sampled trees capped breadth first', async () => {
    const shape = new StaticTreeShape([[0, 0, 0], [0, 1], [1, 0], [2]]);
    const { counts, choices, switches } = await sample(new StaticTreeGrowth(shape), {
      temperature: 1,
      seed: 9,
    });
    const test = chiSquareTest(counts, exactDistribution(), SAMPLES);
    expect(choices.size).toBeGreaterThanOrEqual(4);
    expect(switches).toBeGreaterThan(SAMPLES / 20);
    expect(test.pValue).toBeGreaterThan(ALPHA);
  }, 120_000);
});
