import {
  type DraftContext,
  type Drafter,
  type DraftTree,
  DynamicTreeGrowth,
  OptionError,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
} from '@treespec/core';
import {
  referenceGreedy,
  ToyDrafter,
  type ToyDraftQuality,
  ToyLanguageModel,
  ToyTarget,
} from '@treespec/core/testing';
import { createVerifier, GreedyVerifier } from '@treespec/sampling';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  EagleDrafter,
  HybridDrafter,
  type HybridPolicy,
  LookupDrafter,
  type MatchingDrafter,
  SuffixDrafter,
} from '../src/index.js';
import { expectGreedyIdentity, FeatureLedger, generate, repeatingPrompt } from './helpers.js';
import { ToyDraftHead } from './toy-draft-model.js';

const policies: HybridPolicy[] = ['match', 'expected', 'throughput'];

function toyDrafter(model: ToyLanguageModel, quality: ToyDraftQuality, checkFeatures = false): ToyDrafter {
  return new ToyDrafter({
    target: new ToyTarget(model, { featureSize: checkFeatures ? 3 : 0 }),
    growth: new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 13 }),
    quality,
    checkFeatures,
  });
}

/**
 * A model-free drafter that knows the target: a 6-token chain whose first `right` tokens are the
 * target's greedy continuation and the rest wrong, and a wrong sibling of its first token.
 */
class PrefixOracle implements MatchingDrafter {
  readonly name = 'oracle';
  readonly needsFeatures = false;
  readonly maxTreeSize = 8;
  readonly matchLength = 4;
  constructor(
    private readonly model: ToyLanguageModel,
    private readonly right: number,
  ) {}
  reset(): void {}
  propose(context: DraftContext, tree: DraftTree): void {
    const next = referenceGreedy(this.model, context.tokens.subarray(0, context.length), { maxTokens: 6 });
    const wrong = (t: number, by: number) => (t + by) % this.model.vocabSize;
    tree.reset(context.tokens[context.length - 1]);
    let parent = 0;
    for (let d = 0; d < 6; d++) parent = tree.add(parent, d < this.right ? next[d] : wrong(next[d], 1), -d);
    tree.add(0, wrong(next[0], 2), -10);
  }
}

describe('hybrid drafter', () => {
  it('keeps greedy output identical to plain decoding, whichever drafter each step uses', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed, sharpness: 2 });
      for (const policy of policies) {
        for (const quality of [{ kind: 'perfect' }, { kind: 'mixed', noise: 0.6 }] as ToyDraftQuality[]) {
          const hybrid = new HybridDrafter(
            toyDrafter(model, quality),
            [new LookupDrafter(), new SuffixDrafter({ maxDepth: 5 })],
            { policy },
          );
          for (const prompt of [[1, seed, 4], repeatingPrompt(model, [2, seed], 30)]) {
            await expectGreedyIdentity(model, hybrid, prompt, 60);
          }
          expect(hybrid.steps.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        }
      }
    }
  });

  it('follows the better drafter: lookup on a repeated passage, the model on fresh text', async () => {
    // The policies that rank by accepted tokens alone (throughput also weighs real step times).
    for (const policy of ['match', 'expected'] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed, sharpness: 2.5 });
        const repeated = repeatingPrompt(model, [3, seed], 200);
        // A model drafter that is always wrong, next to lookup, on a passage being repeated. The
        // hybrid pays for trying the model once in each new situation, then keeps to lookup.
        const lookupAlone = await generate(model, new LookupDrafter(), repeated, 200);
        const withBadModel = new HybridDrafter(
          toyDrafter(model, { kind: 'adversarial' }),
          [new LookupDrafter()],
          {
            policy,
          },
        );
        const a = await expectGreedyIdentity(model, withBadModel, repeated, 200);
        expect(a.stats.tau).toBeGreaterThan(0.85 * lookupAlone.stats.tau);
        expect(withBadModel.steps[1]).toBeGreaterThan(3 * withBadModel.steps[0]);
        // A perfect model drafter next to lookup, on text that does not repeat (yet).
        const fresh = [1, seed, 2 * seed];
        const modelAlone = await generate(model, toyDrafter(model, { kind: 'perfect' }), fresh, 30);
        const withGoodModel = new HybridDrafter(
          toyDrafter(model, { kind: 'perfect' }),
          [new LookupDrafter()],
          {
            policy,
          },
        );
        const b = await expectGreedyIdentity(model, withGoodModel, fresh, 30);
        expect(b.stats.tau).toBeGreaterThan(0.9 * modelAlone.stats.tau);
        expect(withGoodModel.steps[0]).toBeGreaterThan(withGoodModel.steps[1]);
      }
    }
  });

  it('shows a feature drafter every feature row once, in order, also after steps it sat out', async () => {
    // Every step takes the same time, so that the throughput policy chooses by accepted tokens
    // alone: on a loaded machine real step times made it keep to one drafter.
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock++);
    try {
      for (let seed = 1; seed <= 6; seed++) {
        // A large vocabulary: after the repeated passage the text is new, and the model drafts.
        const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed, sharpness: 2 });
        for (const policy of policies) {
          // The toy drafter checks each row's values against the target's; the ledger checks order.
          const ledger = new FeatureLedger(toyDrafter(model, { kind: 'mixed', noise: 0.5 }, true));
          const hybrid = new HybridDrafter(ledger, [new SuffixDrafter()], { policy, minMatch: 2 });
          expect(hybrid.needsFeatures).toBe(true);
          await expectGreedyIdentity(model, hybrid, repeatingPrompt(model, [1, seed], 30), 80, 3);
          expect(hybrid.steps[0]).toBeGreaterThan(0);
          expect(hybrid.steps[1]).toBeGreaterThan(0);
          expect(ledger.proposals).toBe(hybrid.steps[0]);
        }
      }
    } finally {
      now.mockRestore();
    }
  });

  it('keeps an EAGLE head in step: it drafts perfectly whenever chosen, after catching up', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed, sharpness: 2.5 });
      const head = new ToyDraftHead(model);
      const eagle = new EagleDrafter(head, {
        growth: new DynamicTreeGrowth({ topK: 3, depth: 3, totalTokens: 21 }),
      });
      const hybrid = new HybridDrafter(eagle, [new LookupDrafter()], { policy: 'match', minMatch: 2 });
      const target = new ToyTarget(model, { featureSize: 4 });
      const decoder = new SpeculativeDecoder({ target, drafter: hybrid, verifier: new GreedyVerifier() });
      const prompt = repeatingPrompt(model, [2, seed], 30);
      const accepted: number[] = [];
      let generated = 0;
      const result = await decoder.generate(prompt, {
        maxTokens: 120,
        onStep: (e) => {
          // Near the end the tokens left, less the bonus, bound the depth drafted.
          const left = 120 - generated;
          generated += e.pathLength;
          if (hybrid.lastChoice === 0 && e.tree.size > 1 && left > 2) accepted.push(e.pathLength - 1);
        },
      });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 120 })),
      );
      expect(hybrid.steps[1]).toBeGreaterThan(0);
      expect(accepted.length).toBeGreaterThan(0);
      // A perfect head always gets its first two depths accepted (see the EAGLE drafter's test).
      expect(Math.min(...accepted)).toBeGreaterThanOrEqual(2);
    }
  });

  describe('with a clock', () => {
    let clock = 0;
    afterEach(() => {
      vi.restoreAllMocks();
    });

    /** Lookup whose drafting takes 1 ms (every step: the hybrid always asks it). */
    class TimedLookup extends LookupDrafter {
      override propose(...args: Parameters<LookupDrafter['propose']>): void {
        clock += 1;
        super.propose(...args);
      }
    }

    /** A perfect model drafter with a 10-token chain whose drafting takes 20 ms. */
    function slowPerfect(model: ToyLanguageModel): Drafter {
      const inner = new ToyDrafter({
        target: new ToyTarget(model),
        growth: new StaticTreeGrowth(StaticTreeShape.chain(10)),
      });
      return {
        name: 'slow',
        needsFeatures: false,
        maxTreeSize: inner.maxTreeSize,
        reset: () => inner.reset(),
        propose: (context, tree) => {
          clock += 20;
          return inner.propose(context, tree);
        },
      };
    }

    it('weighs accepted tokens against measured step time under the throughput policy', async () => {
      vi.spyOn(performance, 'now').mockImplementation(() => clock);
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 5, sharpness: 2.5 });
      const prompt = repeatingPrompt(model, [6, 1], 200);
      const steps: Record<string, readonly number[]> = {};
      for (const policy of ['expected', 'throughput'] as const) {
        const hybrid = new HybridDrafter(slowPerfect(model), [new TimedLookup({ maxDepth: 4 })], { policy });
        await expectGreedyIdentity(model, hybrid, prompt, 200);
        steps[policy] = hybrid.steps;
        if (policy === 'throughput') {
          expect(hybrid.modelStepMs(4)).toBe(21);
          expect(hybrid.treeStepMs(5)).toBe(1);
        }
      }
      // More tokens per step from the model (10 + 1 against 4 + 1) ...
      expect(steps.expected[0]).toBeGreaterThan(steps.expected[1]);
      // ... but fewer per millisecond (11 / 21 against 5 / 1).
      expect(steps.throughput[1]).toBeGreaterThan(5 * steps.throughput[0]);
    });

    it('takes plain steps when sampling makes every tree worth less than its verification', async () => {
      vi.spyOn(performance, 'now').mockImplementation(() => clock);
      /** A target whose verification costs 1 ms plus 1 ms per draft node. */
      class TimedTarget extends ToyTarget {
        override verify(...args: Parameters<ToyTarget['verify']>) {
          clock += args[0].size;
          return super.verify(...args);
        }
      }
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 5, sharpness: 0.5 });
      const prompt = repeatingPrompt(model, [6, 1], 200);
      const run = async (policy: HybridPolicy) => {
        const hybrid = new HybridDrafter(toyDrafter(model, { kind: 'adversarial' }), [new LookupDrafter()], {
          policy,
        });
        const decoder = new SpeculativeDecoder({
          target: new TimedTarget(model),
          drafter: hybrid,
          verifier: createVerifier({ temperature: 1.5, seed: 3 }),
        });
        const started = clock;
        const result = await decoder.generate(prompt, { maxTokens: 300 });
        return { hybrid, msPerToken: (clock - started) / result.tokens.length };
      };
      const throughput = await run('throughput');
      const expected = await run('expected');
      // Matches exist (the prompt repeats) but flat sampling rejects most drafted tokens.
      expect(expected.hybrid.steps[2]).toBe(0);
      expect(throughput.hybrid.steps[2]).toBeGreaterThan(throughput.hybrid.steps[1]);
      expect(throughput.msPerToken).toBeLessThan(expected.msPerToken);
    });
  });

  it('waits longer before each retry of a model drafter that keeps losing, and bounds its catch-up', async () => {
    let clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed: 11, sharpness: 2 });
      const inner = toyDrafter(model, { kind: 'adversarial' });
      /** A model drafter that is always wrong and takes 20 ms; it records each bound set on its catch-up. */
      const bounds: number[] = [];
      const slowWrong: Drafter = {
        name: 'slow-wrong',
        needsFeatures: false,
        maxTreeSize: inner.maxTreeSize,
        reset: () => inner.reset(),
        catchUpWithin: (rows) => bounds.push(rows),
        propose: (context, tree) => {
          clock += 20;
          bounds.push(0);
          return inner.propose(context, tree);
        },
      };
      /** A target whose verification costs 1 ms plus 1 ms per draft node. */
      class TimedTarget extends ToyTarget {
        override verify(...args: Parameters<ToyTarget['verify']>) {
          clock += args[0].size;
          return super.verify(...args);
        }
      }
      const hybrid = new HybridDrafter(slowWrong, [new LookupDrafter()]);
      const decoder = new SpeculativeDecoder({
        target: new TimedTarget(model),
        drafter: hybrid,
        verifier: new GreedyVerifier(),
      });
      const prompt = [5, 1, 7];
      const result = await decoder.generate(prompt, { maxTokens: 1500 });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 1500 })),
      );
      const [modelSteps, , plainSteps] = hybrid.steps;
      expect(plainSteps).toBeGreaterThan(1000);
      // Retried after 64, 128, 256, 512 … steps of a match class (most of them match 4–7 tokens
      // here): a wait of 64 would retry it about 20 times.
      expect(modelSteps).toBeLessThan(12);
      const waits = [0, 1, 2, 4, 8, 16].map((matchLength) => hybrid.retryAfterSteps(matchLength));
      expect(Math.max(...waits)).toBeGreaterThanOrEqual(512);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(64);
      // Every draft after steps sat out catches up on the newest 16 rows at most; the first one
      // of the generation reads the prompt.
      expect(bounds[0]).toBe(0);
      for (let i = 1; i < bounds.length; i += 2) expect(bounds.slice(i, i + 2)).toEqual([16, 0]);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('cuts model-free trees to the levels that pay for their verification', async () => {
    let clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const model = new ToyLanguageModel({ vocabSize: 40, order: 2, seed: 7, sharpness: 2 });
      /** A target whose verification costs 1 ms plus `perNode` ms per draft node. */
      const pricedTarget = (perNode: number) =>
        new (class extends ToyTarget {
          override verify(...args: Parameters<ToyTarget['verify']>) {
            clock += 1 + perNode * (args[0].size - 1);
            return super.verify(...args);
          }
        })(model);
      const prompt = [3, 9, 4];
      const reference = Array.from(referenceGreedy(model, prompt, { maxTokens: 150 }));
      for (const perNode of [0.5, 0.02]) {
        const run = async (policy: HybridPolicy) => {
          const oracle = new PrefixOracle(model, 2);
          const hybrid = new HybridDrafter(toyDrafter(model, { kind: 'adversarial' }), [oracle], { policy });
          const decoder = new SpeculativeDecoder({
            target: pricedTarget(perNode),
            drafter: hybrid,
            verifier: new GreedyVerifier(),
          });
          const sizes: number[] = [];
          const started = clock;
          let generated = 0;
          const result = await decoder.generate(prompt, {
            maxTokens: 150,
            onStep: (e) => {
              // Steps near the end, where the tokens left bound the depth, are not counted.
              const left = 150 - generated;
              generated += e.pathLength;
              if (hybrid.lastChoice === 1 && left > 8) sizes.push(e.tree.size);
            },
          });
          expect(Array.from(result.tokens)).toEqual(reference);
          return { sizes, msPerToken: (clock - started) / result.tokens.length };
        };
        const cut = await run('throughput');
        const whole = await run('expected');
        // Cut to the two levels that get accepted within a few steps, and to the first path alone
        // (root + 2 nodes) once the sibling has been seen to fail.
        expect(whole.sizes.every((n) => n === 8)).toBe(true);
        expect(cut.sizes.slice(4).every((n) => n <= 4)).toBe(true);
        expect(cut.sizes.slice(-20).every((n) => n === 3)).toBe(true);
        expect(cut.sizes.length).toBeGreaterThan(30);
        expect(cut.msPerToken).toBeLessThan(whole.msPerToken);
      }
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('learns expected accepted lengths per match class from every step', async () => {
    const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed: 9, sharpness: 2.5 });
    const hybrid = new HybridDrafter(toyDrafter(model, { kind: 'adversarial' }), [new LookupDrafter()]);
    expect(hybrid.expectedAccepted(0, 0)).toBe(Number.POSITIVE_INFINITY);
    // A repeated passage (lookup matches 4-grams), then new text (no match: the model drafts).
    await generate(model, hybrid, repeatingPrompt(model, [4, 4], 40), 80);
    expect(hybrid.expectedAccepted(0, 0)).toBe(0);
    expect(hybrid.expectedAccepted(1, 0)).toBe(0);
    expect(hybrid.expectedAccepted(1, 4)).toBeGreaterThan(4);
  });

  it('learns apart for greedy and sampling generations, and keeps each record', async () => {
    const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed: 9, sharpness: 2.5 });
    // The records are under test, not the clock: the `expected` policy chooses by accepted
    // tokens alone, where `throughput` would choose by this machine's step times.
    const hybrid = new HybridDrafter(toyDrafter(model, { kind: 'adversarial' }), [new LookupDrafter()], {
      policy: 'expected',
    });
    await generate(model, hybrid, repeatingPrompt(model, [4, 4], 40), 80);
    const greedyLookup = hybrid.expectedAccepted(1, 4);
    expect(greedyLookup).toBeGreaterThan(4);
    expect(hybrid.expectedAccepted(0, 0)).toBe(0);
    // A sampling generation starts from its own record: the model drafter untried, lookup's
    // depths at their prior.
    hybrid.reset(5, 1);
    expect(hybrid.expectedAccepted(0, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(hybrid.expectedAccepted(1, 4)).toBeLessThan(1);
    expect(hybrid.retryAfterSteps(4)).toBe(64);
    // A greedy one finds the greedy record as it was.
    hybrid.reset(5, 0);
    expect(hybrid.expectedAccepted(1, 4)).toBe(greedyLookup);
    expect(hybrid.expectedAccepted(0, 0)).toBe(0);
  });

  it('learns apart for each band of sampling temperatures', async () => {
    const model = new ToyLanguageModel({ vocabSize: 200, order: 2, seed: 9, sharpness: 2.5 });
    const hybrid = new HybridDrafter(toyDrafter(model, { kind: 'adversarial' }), [new LookupDrafter()], {
      policy: 'expected',
    });
    const prompt = repeatingPrompt(model, [4, 4], 40);
    const tried = (temperature: number) => {
      hybrid.reset(5, temperature);
      return hybrid.expectedAccepted(0, 0) !== Number.POSITIVE_INFINITY;
    };
    await generate(model, hybrid, prompt, 80, { verifier: createVerifier({ temperature: 1, seed: 3 }) });
    // The model drafter was tried at temperature 1: from 0.9 up generations share that record,
    // below they start from their own, the model drafter untried.
    expect([tried(1), tried(1.3), tried(0.9), tried(0.7), tried(0.3)]).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    await generate(model, hybrid, prompt, 80, { verifier: createVerifier({ temperature: 0.3, seed: 3 }) });
    expect([tried(0.3), tried(0.49), tried(0.5), tried(0.7)]).toEqual([true, true, false, false]);
  });

  it('sizes its trees for the largest part and rejects bad options', () => {
    const model = new ToyLanguageModel();
    const primary: Drafter = new ToyDrafter({
      target: new ToyTarget(model),
      growth: new StaticTreeGrowth(StaticTreeShape.chain(3)),
    });
    expect(new HybridDrafter(primary, [new LookupDrafter({ maxTokens: 20 })]).maxTreeSize).toBe(21);
    expect(() => new HybridDrafter(primary, [])).toThrow(OptionError);
    expect(() => new HybridDrafter(primary, [new LookupDrafter()], { smoothing: 0 })).toThrow(/smoothing/);
    expect(
      () => new HybridDrafter(primary, [new LookupDrafter()], { policy: 'merge' as HybridPolicy }),
    ).toThrow(/policy/);
  });
});
