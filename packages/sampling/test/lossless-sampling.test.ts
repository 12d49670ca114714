import {
  type DraftContext,
  type Drafter,
  type DraftTree,
  DynamicTreeGrowth,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  type StepEvent,
  type TreeGrowth,
  type Verifier,
  type VerifyInput,
  type VerifyResult,
} from '@treespec/core';
import {
  chiSquareTest,
  ToyDrafter,
  type ToyDraftQuality,
  type ToyDraftSampling,
  ToyLanguageModel,
  ToyTarget,
  type ToyTargetOptions,
} from '@treespec/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LogitsPipeline,
  resolveSampling,
  type SamplingOptions,
  StochasticVerifier,
  sampleToken,
  Xoshiro128,
} from '../src/index.js';

/**
 * Speculative sampling must produce exactly the distribution of plain sampling. We compute the
 * plain-sampling distribution of the first LENGTH tokens exactly from the toy model's tables and
 * the same processors, draw SAMPLES speculative generations with distinct seeds, and apply
 * Pearson's chi-square test. False-alarm rate: ALPHA = 1e-3 per test (seeds are fixed, so a run
 * is reproducible; with ~25 such tests the chance that any correct configuration fails under a
 * new seed is about 2.5 %). The broken verifiers below must be rejected at p < 1e-9.
 */
const VOCAB = 8;
const LENGTH = 3;
const SAMPLES = 20000;
const ALPHA = 1e-3;
const PROMPT = [1, 4];

const model = new ToyLanguageModel({ vocabSize: VOCAB, order: 2, seed: 21, sharpness: 1.6 });

/** Every test's outcome, printed as one table at the end (quoted in release notes). */
const report: string[] = [];
afterAll(() => {
  console.log(
    `chi-square results (${SAMPLES} samples each, ${LENGTH} tokens, vocab ${VOCAB}):\n${report.join('\n')}`,
  );
});
const record = (
  name: string,
  t: { statistic: number; degreesOfFreedom: number; pValue: number },
  tau?: number,
) =>
  report.push(
    `  ${name.padEnd(62)} chi2 ${t.statistic.toFixed(1).padStart(8)} df ${String(t.degreesOfFreedom).padStart(3)} p ${t.pValue.toExponential(2)}${tau ? ` tau ${tau.toFixed(2)}` : ''}`,
  );

/** Exact probability of every LENGTH-token continuation under plain sampling with `options`. */
function exactDistribution(options: SamplingOptions): Map<string, number> {
  const pipeline = new LogitsPipeline(VOCAB, resolveSampling(options));
  const logits = new Float32Array(VOCAB);
  const probs = new Float64Array(VOCAB);
  const out = new Map<string, number>();
  const expand = (seq: number[], p: number): void => {
    if (seq.length === PROMPT.length + LENGTH) {
      out.set(seq.slice(PROMPT.length).join(','), p);
      return;
    }
    model.logits(seq, seq.length, logits, 0);
    pipeline.penalties?.reset();
    pipeline.penalties?.sync(Int32Array.from(seq), seq.length, PROMPT.length);
    pipeline.distribution(logits, 0, seq.length - 1, probs);
    const next = Array.from(probs);
    for (let t = 0; t < VOCAB; t++) if (next[t] > 0) expand([...seq, t], p * next[t]);
  };
  expand([...PROMPT], 1);
  return out;
}

/** Counts the LENGTH-token continuations of SAMPLES speculative generations. */
async function speculativeCounts(
  decoder: SpeculativeDecoder,
  verifier: { setSeed(seed: number): void },
  seedBase: number,
  onStep?: (event: StepEvent) => void,
) {
  const counts = new Map<string, number>();
  let steps = 0;
  let tokens = 0;
  for (let i = 0; i < SAMPLES; i++) {
    verifier.setSeed(seedBase + i);
    const r = await decoder.generate(PROMPT, { maxTokens: LENGTH, ...(onStep ? { onStep } : {}) });
    const key = Array.from(r.tokens).join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
    steps += r.stats.steps;
    tokens += r.tokens.length;
  }
  return { counts, tau: tokens / steps };
}

function makeDecoder(verifier: Verifier, drafter: Drafter) {
  const target = (drafter as unknown as { target: ToyTarget }).target;
  return new SpeculativeDecoder({ target, drafter, verifier });
}

function toyDrafter(
  quality: ToyDraftQuality,
  growth: TreeGrowth,
  sample?: ToyDraftSampling,
  targetOptions?: ToyTargetOptions,
) {
  const target = new ToyTarget(model, targetOptions);
  const drafter = new ToyDrafter({ target, growth, quality, sample });
  return Object.assign(drafter, { target });
}

/**
 * The drafter of the sampled-tree tests: two children per node drawn i.i.d., or three drawn
 * without replacement (`distinct`), from its draft distribution at temperature 1.
 */
function samplingDrafter(
  quality: ToyDraftQuality,
  distinct: boolean,
  seed: number,
  targetOptions?: ToyTargetOptions,
  support?: readonly number[],
) {
  const paths = [[0, 0, 0], [0, 1], [1, 0], [1, 1], ...(distinct ? [[2], [0, 2]] : [])];
  const growth = new StaticTreeGrowth(new StaticTreeShape(paths));
  return toyDrafter(
    quality,
    growth,
    { temperature: 1, seed, distinct, ...(support ? { support } : {}) },
    targetOptions,
  );
}

/**
 * A reduced draft vocabulary of the sampled-tree tests: five of the eight tokens, listed out of
 * order, so a rejection leaves mass off the support and the bonus token is drawn there too.
 */
const DRAFT_SUPPORT = [6, 1, 3, 0, 4];

/** A sampled-tree test: the processors, the drafter's quality, distinct draws, and a draft support or none. */
type SampledCase = [string, SamplingOptions, string, ToyDraftQuality, boolean, (readonly number[])?];

/** How {@link samplingDrafter} draws, for test names. */
const drawsOf = (distinct: boolean) =>
  distinct ? 'three children per node without replacement' : 'two children per node';

const processors: Array<[string, SamplingOptions]> = [
  ['temperature 0.7', { temperature: 0.7 }],
  ['temperature 1.3', { temperature: 1.3 }],
  ['top-p 0.9', { temperature: 1, topP: 0.9 }],
  ['top-k 5', { temperature: 1, topK: 5 }],
  ['min-p 0.05', { temperature: 1, minP: 0.05 }],
  ['repetition penalty 1.2', { temperature: 1, repetitionPenalty: 1.2 }],
];

const drafters: Array<[string, ToyDraftQuality]> = [
  ['perfect', { kind: 'perfect' }],
  ['mediocre', { kind: 'mixed', noise: 0.6 }],
  ['adversarial', { kind: 'adversarial' }],
];

describe('stochastic verification is lossless (chi-square, alpha 1e-3)', () => {
  let seedBase = 1000;
  for (const [processorName, options] of processors) {
    for (const [drafterName, quality] of drafters) {
      seedBase += SAMPLES;
      const base = seedBase;
      it(`matches plain sampling with ${processorName} and a ${drafterName} top-k drafter`, async () => {
        const verifier = new StochasticVerifier(options);
        const drafter = toyDrafter(quality, new DynamicTreeGrowth({ topK: 3, depth: 2, totalTokens: 9 }));
        const { counts, tau } = await speculativeCounts(makeDecoder(verifier, drafter), verifier, base);
        const test = chiSquareTest(counts, exactDistribution(options), SAMPLES);
        record(`${processorName}, ${drafterName} top-k drafter`, test, tau);
        expect(test.degreesOfFreedom).toBeGreaterThan(10);
        expect(test.pValue).toBeGreaterThan(ALPHA);
        if (drafterName === 'perfect') expect(tau).toBeGreaterThan(1.5);
        if (drafterName === 'adversarial') expect(tau).toBeLessThan(1.2);
      }, 60_000);
    }
  }

  const sampledCases: SampledCase[] = [];
  for (const [processorName, options] of [processors[0], processors[2], processors[5]])
    for (const [drafterName, quality] of drafters.slice(0, 2))
      for (const distinct of [false, true])
        sampledCases.push([processorName, options, drafterName, quality, distinct]);
  for (const [processorName, options] of [processors[2], processors[5]])
    for (const distinct of [false, true])
      sampledCases.push([processorName, options, ...drafters[1]!, distinct, DRAFT_SUPPORT]);
  for (const [processorName, options, drafterName, quality, distinct, support] of sampledCases) {
    seedBase += SAMPLES;
    const base = seedBase;
    const over = support ? ` over ${support.length} of ${VOCAB} tokens` : '';
    it(`matches plain sampling with ${processorName} and a ${drafterName} drafter${over} that samples ${drawsOf(distinct)}`, async () => {
      const verifier = new StochasticVerifier(options);
      const drafter = samplingDrafter(quality, distinct, base, undefined, support);
      const kinds = new Set<string>();
      const supports = new Set<string>();
      const { counts, tau } = await speculativeCounts(makeDecoder(verifier, drafter), verifier, base, (e) => {
        // The last token is decoded without a draft.
        if (e.tree.size > 1) {
          kinds.add(e.tree.candidateKind);
          supports.add(String(e.tree.draftSupport));
        }
      });
      const test = chiSquareTest(counts, exactDistribution(options), SAMPLES);
      record(
        `${processorName}, ${drafterName} sampling drafter${over} (${distinct ? '3 distinct' : '2'} children)`,
        test,
        tau,
      );
      expect([...kinds]).toEqual([distinct ? 'sampled-distinct' : 'sampled']);
      expect([...supports]).toEqual([String(support ?? null)]);
      expect(test.pValue).toBeGreaterThan(ALPHA);
      expect(tau).toBeGreaterThan(1.2);
    }, 60_000);
  }
});

describe('stochastic verification of sampled trees on the weights a target computes is lossless (chi-square, alpha 1e-3)', () => {
  const cases: SampledCase[] = [
    [...processors[0]!, ...drafters[1]!, false],
    [...processors[0]!, ...drafters[1]!, true],
    [...processors[1]!, ...drafters[0]!, true],
    [...processors[1]!, ...drafters[1]!, false],
    [...processors[0]!, ...drafters[1]!, true, DRAFT_SUPPORT],
    [...processors[1]!, ...drafters[1]!, false, DRAFT_SUPPORT],
  ];
  let seedBase = 900_000;
  for (const [processorName, options, drafterName, quality, distinct, support] of cases) {
    seedBase += SAMPLES;
    const base = seedBase;
    const over = support ? ` over ${support.length} of ${VOCAB} tokens` : '';
    it(`matches plain sampling with ${processorName} and a ${drafterName} drafter${over} that samples ${drawsOf(distinct)}`, async () => {
      const verifier = new StochasticVerifier(options);
      const drafter = samplingDrafter(
        quality,
        distinct,
        base,
        { sampledTokens: true, sampleWeights: true },
        support,
      );
      // Every verification of a drafted tree asks the target for its rows' weights.
      const asked = new Set<string>();
      const verify = drafter.target.verify.bind(drafter.target);
      drafter.target.verify = (tree, callOptions) => {
        if (tree.size > 1) asked.add(callOptions?.sample?.weights === true ? 'weights' : 'logits');
        return verify(tree, callOptions);
      };
      const { counts, tau } = await speculativeCounts(makeDecoder(verifier, drafter), verifier, base);
      const test = chiSquareTest(counts, exactDistribution(options), SAMPLES);
      record(
        `${processorName}, ${drafterName} sampling drafter${over} (${distinct ? '3 distinct' : '2'} children), row weights`,
        test,
        tau,
      );
      expect([...asked]).toEqual(['weights']);
      expect(test.pValue).toBeGreaterThan(ALPHA);
      expect(tau).toBeGreaterThan(1.2);
    }, 60_000);
  }
});

/** Labels its inner drafter's trees as drawn i.i.d. from the draft distribution, whatever they are. */
class MislabellingDrafter implements Drafter {
  readonly name = 'mislabelled';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  constructor(
    private readonly inner: ToyDrafter,
    readonly target: ToyTarget,
  ) {
    this.maxTreeSize = inner.maxTreeSize;
  }
  reset(): void {
    this.inner.reset();
  }
  propose(context: DraftContext, tree: DraftTree): void {
    this.inner.propose(context, tree);
    tree.candidateKind = 'sampled';
  }
}

/** Accepts a child with probability p(c) but never removes rejected children from p. */
class NoResidualVerifier implements Verifier {
  readonly name = 'no-residual';
  private readonly rng = new Xoshiro128(0);
  private readonly pipeline = new LogitsPipeline(VOCAB, resolveSampling({ temperature: 1 }));
  private readonly probs = new Float64Array(VOCAB);
  setSeed(seed: number): void {
    this.rng.seed(seed);
  }
  reset(): void {}
  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits } = input;
    let node = 0;
    let length = 1;
    result.path[0] = 0;
    walk: while (true) {
      this.pipeline.distribution(logits, node * VOCAB, 0, this.probs);
      for (let c = node + 1; c < tree.size; c++) {
        if (tree.parents[c] === node && this.rng.nextFloat() < this.probs[tree.tokens[c]]) {
          result.path[length++] = c;
          node = c;
          continue walk;
        }
      }
      result.bonusToken = sampleToken(this.probs, VOCAB, this.rng);
      break;
    }
    result.pathLength = length;
  }
}

/**
 * The chi-square test of trees a mediocre toy drafter grows (its top-k, or draws from q when
 * `sample` is given), all labelled as drawn i.i.d. from q, under `StochasticVerifier`.
 */
async function mislabelledTest(seedBase: number, sample?: ToyDraftSampling) {
  const verifier = new StochasticVerifier({ temperature: 1 });
  const target = new ToyTarget(model);
  const inner = new ToyDrafter({
    target,
    growth: new StaticTreeGrowth(new StaticTreeShape([[0, 0], [1], [2]])),
    quality: { kind: 'mixed', noise: 0.5 },
    ...(sample ? { sample } : {}),
  });
  const decoder = new SpeculativeDecoder({
    target,
    drafter: new MislabellingDrafter(inner, target),
    verifier,
  });
  const { counts } = await speculativeCounts(decoder, verifier, seedBase);
  return chiSquareTest(counts, exactDistribution({ temperature: 1 }), SAMPLES);
}

describe('the statistical test has power', () => {
  it('detects a verifier that applies min(1, p/q) to top-k candidates', async () => {
    const test = await mislabelledTest(77);
    record('BROKEN: min(1, p/q) on top-k candidates', test);
    expect(test.pValue).toBeLessThan(1e-9);
  }, 60_000);

  it('detects children drawn without replacement but verified as i.i.d. draws', async () => {
    const test = await mislabelledTest(79, { temperature: 1, seed: 79, distinct: true });
    record('BROKEN: draws without replacement verified as i.i.d.', test);
    expect(test.pValue).toBeLessThan(1e-9);
  }, 60_000);

  it('detects a verifier that samples the bonus without removing rejected children', async () => {
    const verifier = new NoResidualVerifier();
    const drafter = toyDrafter(
      { kind: 'mixed', noise: 0.5 },
      new DynamicTreeGrowth({ topK: 3, depth: 2, totalTokens: 9 }),
    );
    const { counts } = await speculativeCounts(makeDecoder(verifier, drafter), verifier, 78);
    const test = chiSquareTest(counts, exactDistribution({ temperature: 1 }), SAMPLES);
    record('BROKEN: rejected children left in the residual', test);
    expect(test.pValue).toBeLessThan(1e-9);
  }, 60_000);
});
