import {
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  DraftTree,
  DynamicTreeGrowth,
  OptionError,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
} from '@treespec/core';
import { ToyDrafter, type ToyDraftQuality, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { describe, expect, it } from 'vitest';
import { EagleDrafter, EntropyStopGrowth, type EntropyStopOptions } from '../src/index.js';
import { CountingGrowth, expectGreedyIdentity, generate } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

/** A toy drafter that passes each verification on to its growth, so λ can adapt. */
class ObservingDrafter implements Drafter {
  readonly name = 'observing';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  private readonly inner: ToyDrafter;
  constructor(
    target: ToyTarget,
    readonly growth: EntropyStopGrowth,
    quality: ToyDraftQuality,
  ) {
    this.inner = new ToyDrafter({ target, growth, quality });
    this.maxTreeSize = growth.maxTreeSize;
  }
  reset() {
    this.inner.reset();
  }
  propose(context: DraftContext, tree: DraftTree) {
    return this.inner.propose(context, tree);
  }
  observe(outcome: DraftOutcome) {
    this.growth.observe(outcome);
  }
}

const qualities: ToyDraftQuality[] = [
  { kind: 'perfect' },
  { kind: 'mixed', noise: 0.5 },
  { kind: 'adversarial' },
];
const stops: EntropyStopOptions[] = [
  { threshold: 0.1 },
  { threshold: 0.5 },
  { threshold: 0.9 },
  { adapt: true },
];

describe('entropy-based draft stopping (AdaEDL)', () => {
  it('bounds the entropy from the top-k log-probabilities, or uses the one reported', () => {
    const growth = new EntropyStopGrowth(new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 7 }), {
      threshold: 0.5,
    });
    const frontier = new Int32Array(growth.maxFrontier);
    growth.begin(0);
    expect(growth.nextFrontier(frontier)).toBe(1);
    growth.addChild(0, 5, Math.log(0.5));
    growth.addChild(0, 6, Math.log(0.3));
    // Known mass 0.8; the other 0.2 lies on tokens at most 0.3 likely.
    const bound = -0.5 * Math.log(0.5) - 0.3 * Math.log(0.3) + 0.2 * -Math.log(0.3);
    expect(growth.entropyOf(0)).toBeCloseTo(bound, 12);
    expect(growth.acceptanceBound(0)).toBeCloseTo(1 - Math.sqrt(0.2 * bound), 12);
    // At least 0.95 nats: the bound 1 - sqrt(0.2 * 0.95) = 0.56 is >= 0.5, so both children grow.
    expect(growth.nextFrontier(frontier)).toBe(2);

    growth.begin(0);
    growth.nextFrontier(frontier);
    growth.addChild(0, 5, Math.log(0.2));
    growth.addChild(0, 6, Math.log(0.2));
    // At least 1.61 nats: the bound 0.43 is below 0.5, so both stay leaves and growth ends.
    expect(growth.nextFrontier(frontier)).toBe(0);
    expect(growth.stoppedNodes).toBe(2);

    growth.begin(0);
    growth.nextFrontier(frontier);
    growth.reportEntropy(0, 0.05);
    growth.addChild(0, 5, Math.log(0.2));
    growth.addChild(0, 6, Math.log(0.2));
    expect(growth.entropyOf(0)).toBe(0.05);
    expect(growth.nextFrontier(frontier)).toBe(2);
  });

  it('never changes greedy output, for any drafter quality, tree and threshold', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 24, order: 2, seed, sharpness: 0.5 + (seed % 5) });
      const growths: Array<() => TreeGrowth> = [
        () => new DynamicTreeGrowth({ topK: 3, depth: 4, totalTokens: 17 }),
        () => new DynamicTreeGrowth({ topK: 4, depth: 5, totalTokens: 21, minFrontierProbability: 0.05 }),
        () =>
          new StaticTreeGrowth(
            new StaticTreeShape([
              [0, 0, 0, 0],
              [1, 0],
              [0, 1],
            ]),
          ),
      ];
      for (const makeGrowth of growths) {
        for (const stop of stops) {
          for (const quality of qualities) {
            const target = new ToyTarget(model);
            const drafter = new ObservingDrafter(target, new EntropyStopGrowth(makeGrowth(), stop), quality);
            await expectGreedyIdentity(model, drafter, [1, seed % 24, 7], 50);
            compared++;
          }
          const head = new ToyDraftHead(model);
          const eagle = new EagleDrafter(head, { growth: new EntropyStopGrowth(makeGrowth(), stop) });
          await expectGreedyIdentity(model, eagle, [1, seed % 24, 7], 50, 4);
          compared++;
        }
      }
    }
    expect(compared).toBe(10 * 3 * stops.length * (qualities.length + 1));
  });

  it('makes fewer draft calls where the draft is unsure, and about as many where it is sure', async () => {
    const calls = async (sharpness: number, stop: EntropyStopOptions | null) => {
      let expansions = 0;
      let tau = 0;
      for (let seed = 1; seed <= 6; seed++) {
        const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness });
        const dynamic = new DynamicTreeGrowth({ topK: 4, depth: 4, totalTokens: 25 });
        const growth = new CountingGrowth(stop ? new EntropyStopGrowth(dynamic, stop) : dynamic);
        const drafter = new ToyDrafter({ target: new ToyTarget(model), growth });
        const result = await generate(model, drafter, [1, seed, 3], 80);
        expansions += growth.expansions / result.stats.steps;
        tau += result.stats.tau / 6;
      }
      return { perStep: expansions / 6, tau };
    };
    const flatFixed = await calls(0.6, null);
    const flatStopped = await calls(0.6, { threshold: 0.3 });
    const sharpFixed = await calls(8, null);
    const sharpStopped = await calls(8, { threshold: 0.3 });
    expect(flatFixed.perStep).toBe(5);
    expect(flatStopped.perStep).toBeLessThan(0.5 * flatFixed.perStep);
    expect(sharpStopped.perStep).toBeGreaterThan(0.9 * sharpFixed.perStep);
    expect(sharpStopped.tau).toBeGreaterThan(0.95 * sharpFixed.tau);
  });

  it('adapts the threshold to the acceptance rate: up when tokens are rejected, down when stopping too soon', () => {
    const growth = new EntropyStopGrowth(new StaticTreeGrowth(StaticTreeShape.chain(4)), {
      threshold: 0.5,
      adapt: true,
    });
    const tree = new DraftTree(5);
    tree.reset(0);
    for (let d = 1; d <= 4; d++) tree.add(d - 1, d, -d);
    const outcome = (pathLength: number): DraftOutcome => ({
      tree,
      path: Int32Array.from([0, 1, 2, 3, 4]),
      pathLength,
      bonusToken: 9,
    });
    const frontier = new Int32Array(1);
    const start = growth.threshold;
    for (let i = 0; i < 5; i++) growth.observe(outcome(1));
    const raised = growth.threshold;
    expect(raised).toBeGreaterThan(start);
    // Full acceptance with no branch stopped: λ holds once the rate is back above the target.
    for (let i = 0; i < 5; i++) growth.observe(outcome(5));
    const held = growth.threshold;
    growth.observe(outcome(5));
    expect(growth.threshold).toBe(held);
    // A stopped branch in the latest tree, yet full acceptance: λ comes down.
    growth.begin(0);
    growth.nextFrontier(frontier);
    growth.addChild(0, 1, Math.log(0.01));
    expect(growth.nextFrontier(frontier)).toBe(0);
    growth.observe(outcome(5));
    expect(growth.threshold).toBeLessThan(held);
  });

  it('rejects bad options with an OptionError naming the option', () => {
    const inner = new DynamicTreeGrowth();
    expect(() => new EntropyStopGrowth(inner, { entropyFactor: 0 })).toThrow(OptionError);
    expect(() => new EntropyStopGrowth(inner, { threshold: 1.5 })).toThrow(/threshold/);
    expect(() => new EntropyStopGrowth(inner, { adapt: { step: -1 } })).toThrow(/adapt.step/);
  });
});
