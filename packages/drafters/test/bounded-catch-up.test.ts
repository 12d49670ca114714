import {
  type DraftContext,
  type Drafter,
  type DraftTree,
  DynamicTreeGrowth,
  SpeculativeDecoder,
} from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController, DraftLmDrafter, EagleDrafter, type ModelTreeDrafter } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget } from './clocked-toy.js';
import { RecordingHead, ToyDraftHead } from './toy-draft-model.js';

const WINDOW = 6;

/**
 * A controller over a drafter of the toy model itself (its drafts are always right) where a tree
 * still costs a little more than it gains (each node 11 ms against a 10 ms plain step): it decodes plainly
 * and probes now and then, each probe catching up within WINDOW rows.
 */
async function probeRuns(kind: 'eagle' | 'draft-lm', valueTrees: boolean) {
  const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
  const clock = new Clock();
  const featureSize = kind === 'eagle' ? 3 : 0;
  const target = new ClockedTarget(new ToyTarget(model, { featureSize }), clock, {
    verify: (n) => 10 + 11 * (n - 1),
    draftCall: 0.5,
  });
  const head = new RecordingHead(model, { featureSize });
  const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });
  const drafter: ModelTreeDrafter =
    kind === 'eagle' ? new EagleDrafter(head, { growth }) : new DraftLmDrafter(head, { growth });
  const controller = new BudgetController(
    { drafter: new ClockedDrafter(drafter, target), growth },
    { clock: clock.read, probeCatchUp: WINDOW, probeEvery: 4, maxPlainRun: 16, valueTrees },
  );
  const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
  const drafted: Array<{ depth: number; accepted: number; step: number }> = [];
  const prompt = [1, 4, 2, 7];
  const result = await decoder.generate(prompt, {
    maxTokens: 2000,
    onStep: ({ step, tree, pathLength }) => {
      if (tree.size > 1) drafted.push({ depth: tree.maxDepth(), accepted: pathLength - 1, step });
    },
  });
  expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens: 2000 })));
  return { head, drafted, controller: result.stats.controller };
}

describe('a probe out of plain decoding catches its drafter up within a bound', () => {
  for (const kind of ['eagle', 'draft-lm'] as const) {
    it(`${kind}: feeds the model at most the newest rows, and its drafts still follow the sequence`, async () => {
      const { head, drafted, controller } = await probeRuns(kind, false);
      expect(controller?.plainSteps).toBeGreaterThan(1000);
      // The start trees commit a step's rows each (at most 4); the probes after runs of 16 plain
      // steps or more would have fed 16 rows or more.
      const probes = head.commits.filter((rows) => rows === WINDOW).length;
      expect(probes).toBeGreaterThan(3);
      expect(Math.max(...head.commits.slice(1))).toBeLessThanOrEqual(WINDOW);
      // The toy model drafts exactly when it sees the right last two tokens at the right places:
      // every drafted path is accepted whole, probes included.
      expect(drafted.length).toBeGreaterThan(probes);
      for (const step of drafted) expect(step.accepted).toBe(step.depth);
    });

    it(`${kind}: with trees sized by value, its probes catch up within the bound too and keep no node that costs more than it gains`, async () => {
      const { head, drafted, controller } = await probeRuns(kind, true);
      expect(controller?.plainSteps).toBeGreaterThan(1000);
      expect(head.commits.filter((rows) => rows === WINDOW).length).toBeGreaterThan(3);
      expect(Math.max(...head.commits.slice(1))).toBeLessThanOrEqual(WINDOW);
      // A node costs 11 ms, more than the plain token it can at best save: once the start trees
      // and the first trees have timed that, the probes verify their roots alone.
      expect(drafted.length).toBeGreaterThanOrEqual(8);
      expect(Math.max(...drafted.map((d) => d.step))).toBeLessThan(100);
      for (const step of drafted) expect(step.accepted).toBe(step.depth);
    });
  }
});

describe('a tree the rates favour after a long run of plain steps', () => {
  it('catches its drafter up within the same bound as a probe', async () => {
    // Plain decoding wins (a 5-node tree commits 4 tokens for 56 ms) until the machine gets busier
    // and a plain step costs 20 ms instead of 10; the trees, priced as before, then win, and the
    // controller drafts again without a probe.
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
    const clock = new Clock();
    const busyFrom = 3000;
    const target = new ClockedTarget(new ToyTarget(model, { featureSize: 3 }), clock, {
      verify: (n) => (n === 1 && clock.now >= busyFrom ? 20 : 10 + 11 * (n - 1)),
      draftCall: 0.5,
    });
    const head = new RecordingHead(model, { featureSize: 3 });
    const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(new EagleDrafter(head, { growth }), target), growth },
      { clock: clock.read, probeCatchUp: WINDOW, probeEvery: 4, maxPlainRun: 1000, valueTrees: false },
    );
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
    const prompt = [1, 4, 2, 7];
    const before: number[] = [];
    const after: number[] = [];
    const result = await decoder.generate(prompt, {
      maxTokens: 600,
      onStep: ({ tree }) => (clock.now < busyFrom ? before : after).push(tree.size),
    });
    expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens: 600 })));
    // Plain before (the start steps and one probe aside), trees after.
    expect(before.filter((size) => size === 1).length).toBeGreaterThan(200);
    expect(after.filter((size) => size > 1).length).toBeGreaterThan(after.length / 2);
    expect(Math.max(...head.commits.slice(1))).toBeLessThanOrEqual(WINDOW);
  });
});

/** Drafts with `inner` in the last 4 of every 16 steps, the first of them bounded to WINDOW rows. */
class ProbeEvery16 implements Drafter {
  readonly name = 'probe-every-16';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  private step = 0;
  constructor(readonly inner: ModelTreeDrafter) {
    this.maxTreeSize = inner.maxTreeSize;
  }
  reset(seed?: number, temperature?: number) {
    this.step = 0;
    this.inner.reset(seed, temperature);
  }
  async propose(context: DraftContext, tree: DraftTree) {
    const phase = this.step++ % 16;
    if (phase < 12) return;
    if (phase === 12) this.inner.catchUpWithin(WINDOW);
    await this.inner.propose(context, tree);
  }
}

describe('a draft LM caught up within a bound', () => {
  it('commits the tokens that follow its window on the next steps, each at its place', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 13, sharpness: 2 });
    const head = new RecordingHead(model, { featureSize: 0 });
    const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });
    const drafter = new ProbeEvery16(new DraftLmDrafter(head, { growth }));
    const decoder = new SpeculativeDecoder({
      target: new ToyTarget(model),
      drafter,
      verifier: new GreedyVerifier(),
    });
    const accepted: number[] = [];
    const prompt = [1, 4, 2];
    const r = await decoder.generate(prompt, {
      maxTokens: 300,
      onStep: ({ tree, pathLength }) => {
        if (tree.size > 1) accepted.push(pathLength - 1 - tree.maxDepth());
      },
    });
    expect(Array.from(r.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens: 300 })));
    // Bounded catch-ups of WINDOW rows, each followed by commits of one step's tokens (at most 4).
    expect(head.commits.filter((rows) => rows === WINDOW).length).toBeGreaterThan(10);
    expect(Math.max(...head.commits)).toBeLessThanOrEqual(WINDOW);
    // The toy drafts right only from the right last two tokens: every path accepted whole.
    expect(accepted.length).toBeGreaterThan(40);
    expect(accepted.every((short) => short === 0)).toBe(true);
  });
});

describe("a generation's first draft reads at most promptRows of its context", () => {
  const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
  const prompt = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 30);
  const growth = () => new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });

  for (const kind of ['eagle', 'draft-lm'] as const) {
    it(`${kind}: the first commit is the newest rows, later ones a step's, output unchanged`, async () => {
      const featureSize = kind === 'eagle' ? 3 : 0;
      const runs: number[][] = [];
      for (const promptRows of [WINDOW, 0]) {
        const head = new RecordingHead(model, { featureSize });
        const drafter =
          kind === 'eagle'
            ? new EagleDrafter(head, { growth: growth(), promptRows })
            : new DraftLmDrafter(head, { growth: growth(), promptRows });
        const decoder = new SpeculativeDecoder({
          target: new ToyTarget(model, { featureSize }),
          drafter,
          verifier: new GreedyVerifier(),
        });
        // Twice: the bound holds for each generation's first draft, not only the drafter's first.
        for (let g = 0; g < 2; g++) {
          head.commits.length = 0;
          const r = await decoder.generate(prompt, { maxTokens: 60 });
          expect(Array.from(r.tokens)).toEqual(Array.from(referenceGreedy(model, prompt, { maxTokens: 60 })));
          runs.push([...head.commits]);
        }
      }
      const contextRows = kind === 'eagle' ? prompt.length - 1 : prompt.length;
      for (const bounded of runs.slice(0, 2)) {
        expect(bounded[0]).toBe(WINDOW);
        expect(Math.max(...bounded.slice(1))).toBeLessThanOrEqual(4);
      }
      for (const whole of runs.slice(2)) expect(whole[0]).toBe(contextRows);
    });
  }

  it('rejects a negative or fractional bound', () => {
    const head = new RecordingHead(model, { featureSize: 3 });
    expect(() => new EagleDrafter(head, { growth: growth(), promptRows: -1 })).toThrow(/promptRows/);
    expect(() => new EagleDrafter(head, { growth: growth(), promptRows: 2.5 })).toThrow(/promptRows/);
  });
});

/** A toy head that scores context tokens: it records the tokens noted since its last clear. */
class ContextHead extends ToyDraftHead {
  noted: number[] = [];
  clears = 0;
  noteContext(tokens: Int32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) this.noted.push(tokens[i]!);
  }
  clearContext(): void {
    this.noted = [];
    this.clears++;
  }
}

describe('a head that scores context tokens', () => {
  it('is shown every committed token once, the ones a bounded catch-up skips included, and forgets them at reset', async () => {
    const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 5, sharpness: 2 });
    const clock = new Clock();
    const target = new ClockedTarget(new ToyTarget(model, { featureSize: 3 }), clock, {
      verify: (n) => 10 + 11 * (n - 1),
      draftCall: 0.5,
    });
    const head = new ContextHead(model, { featureSize: 3 });
    const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 5 });
    const drafter = new ProbeEvery16(new EagleDrafter(head, { growth, promptRows: 2 }));
    const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
    const prompt = [1, 4, 2, 7, 9, 3];
    const result = await decoder.generate(prompt, { maxTokens: 80 });
    const sequence = [...prompt, ...Array.from(result.tokens)];
    expect(head.noted.length).toBeGreaterThan(prompt.length);
    expect(head.noted).toEqual(sequence.slice(0, head.noted.length));
    const clears = head.clears;
    await decoder.generate([2, 2, 5], { maxTokens: 20 });
    expect(head.clears).toBe(clears + 1);
    expect(head.noted.slice(0, 3)).toEqual([2, 2, 5]);
  });
});
