import {
  type DraftContext,
  type Drafter,
  type DraftTree,
  SpeculativeDecoder,
  StaticTreeGrowth,
  StaticTreeShape,
  type Verifier,
  type VerifyInput,
  type VerifyResult,
} from '@treespec/core';
import { referenceGreedy, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { BudgetController } from '../src/index.js';
import { Clock, ClockedDrafter, ClockedTarget, type ToyCosts } from './clocked-toy.js';

const model = new ToyLanguageModel({ vocabSize: 30, order: 2, seed: 12, sharpness: 2 });
const PROMPT = [1, 4, 2, 7];

/**
 * Drafts a static shape over the toy model, putting the target's greedy token at child rank
 * `rightRank(depth)` of every node and wrong tokens at the other ranks: which of a tree's nodes the
 * target accepts is fixed by the shape.
 */
class RankedDrafter implements Drafter {
  readonly name = 'ranked';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  private readonly frontier: Int32Array;
  private readonly logits = new Float32Array(model.vocabSize);

  constructor(
    readonly growth: StaticTreeGrowth,
    readonly rightRank: (depth: number) => number,
  ) {
    this.maxTreeSize = growth.maxTreeSize;
    this.frontier = new Int32Array(growth.maxFrontier);
  }

  reset(): void {}

  propose(context: DraftContext, tree: DraftTree): void {
    const g = this.growth;
    g.begin(context.tokens[context.length - 1]!);
    for (let n = g.nextFrontier(this.frontier); n > 0; n = g.nextFrontier(this.frontier)) {
      for (let i = 0; i < n; i++) {
        const node = this.frontier[i]!;
        const right = this.greedyAfter(context, node);
        const depth = g.depthOf(node) + 1;
        for (let rank = 0; rank < g.childrenWanted(node); rank++) {
          const token = rank === this.rightRank(depth) ? right : (right + rank + 1) % model.vocabSize;
          g.addChild(node, token, -1 - rank);
        }
      }
    }
    g.finish(tree);
  }

  /** The target's greedy token after the context and the path to `node`. */
  private greedyAfter(context: DraftContext, node: number): number {
    const path: number[] = [];
    for (let id = node; id > 0; id = this.growth.parentOf(id)) path.unshift(this.growth.tokenOf(id));
    const seq = [...Array.from(context.tokens.subarray(0, context.length)), ...path];
    model.logits(seq, seq.length, this.logits);
    let best = 0;
    for (let t = 1; t < model.vocabSize; t++) if (this.logits[t]! > this.logits[best]!) best = t;
    return best;
  }
}

/** The controller's candidate with `depth` depths and `nodes` draft nodes. */
function candidate(controller: BudgetController, depth: number, nodes: number): number {
  const c = controller.depths.findIndex((d, i) => d === depth && controller.nodes[i] === nodes);
  expect(c, `candidate ${depth}/${nodes}`).toBeGreaterThanOrEqual(0);
  return c;
}

describe('a budget controller over trees capped in their cap order (sampled trees)', () => {
  it("reads each candidate's acceptance off the drafted trees' prefixes", async () => {
    // Breadth first: 1 = (0), 2 = (1), 3 = (2), 4 = (0,0), 5 = (1,0). The target takes the second
    // draw at the root and the first below it: the path is [root, 2, 5].
    const growth = new StaticTreeGrowth(new StaticTreeShape([[0, 0], [1, 0], [2]]));
    const clock = new Clock();
    const target = new ClockedTarget(new ToyTarget(model), clock, { verify: (n) => 10 + n, draftCall: 1 });
    const drafter = new RankedDrafter(growth, (depth) => (depth === 1 ? 1 : 0));
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(drafter, target), growth },
      { clock: clock.read, fixed: true },
    );
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
    const result = await decoder.generate(PROMPT, { maxTokens: 60 });
    expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, PROMPT, { maxTokens: 60 })));
    // Cap order: (0), (0,0), (1), (1,0), (2). One draw at the root misses; two or three take one
    // token; the chain (0), (0,0) none; (0), (0,0), (1) one, the path leaving it after the second
    // draw; with (1,0), two.
    expect(controller.expectedAccepted(candidate(controller, 1, 1))).toBe(0);
    expect(controller.expectedAccepted(candidate(controller, 1, 2))).toBe(1);
    expect(controller.expectedAccepted(candidate(controller, 1, 3))).toBe(1);
    expect(controller.expectedAccepted(candidate(controller, 2, 2))).toBe(0);
    expect(controller.expectedAccepted(candidate(controller, 2, 3))).toBe(1);
    expect(controller.expectedAccepted(candidate(controller, 2, 4))).toBe(2);
    expect(controller.expectedAccepted(candidate(controller, 2, 5))).toBe(2);
  });

  it('re-times a drafting price taken in cold calls once it is stale, and drafts again', async () => {
    // A chain of two the target always accepts: 3 tokens for a 12 ms verification and 3 draft
    // calls, against 30 ms plain steps. The first 30 draft calls are cold (30 ms each), long
    // enough for the start steps' price (90 ms of drafting) to say that plain steps win: their
    // start ends after 8 steps (24 calls), since even every draft accepted cannot pay that price.
    const growth = new StaticTreeGrowth(StaticTreeShape.chain(2));
    const clock = new Clock();
    const costs: ToyCosts = { verify: (n) => (n === 1 ? 30 : 30 + (n - 1)), draftCall: 30 };
    const target = new ClockedTarget(new ToyTarget(model), clock, costs);
    let calls = 0;
    const cold = new ClockedDrafter(new RankedDrafter(growth, () => 0), target);
    const drafter: Drafter = {
      name: cold.name,
      needsFeatures: false,
      maxTreeSize: cold.maxTreeSize,
      reset: () => cold.reset(),
      propose: async (context, tree) => {
        await cold.propose(context, tree);
        calls += tree.maxDepth() + 1;
        if (calls >= 30) costs.draftCall = 0.5;
      },
    };
    const controller = new BudgetController({ drafter, growth }, { clock: clock.read });
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
    const drafted: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      const prompt = [1, 4, i, 7];
      const result = await decoder.generate(prompt, {
        maxTokens: 400,
        onStep: ({ tree }) => drafted.push(tree.size > 1),
      });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, prompt, { maxTokens: 400 })),
      );
    }
    // It went plain on the cold price, then a probe timed drafting again: the last half drafts.
    expect(drafted.slice(0, 200)).toContain(false);
    const late = drafted.slice(drafted.length / 2);
    expect(late.filter((d) => d).length).toBeGreaterThan(0.9 * late.length);
  });

  it('ends the start of trees that cannot pay at the top of their acceptance once a plain step is timed', async () => {
    // A one-token chain for 3 ms of drafting and a 14 ms verification against 10 ms plain steps:
    // never accepted, it commits 1 token for 17 ms; always accepted, 2 tokens for 17 ms.
    const starts = async (rightRank: number): Promise<boolean[]> => {
      const growth = new StaticTreeGrowth(StaticTreeShape.chain(1));
      const clock = new Clock();
      const target = new ClockedTarget(new ToyTarget(model), clock, {
        verify: (n) => (n === 1 ? 10 : 13 + n / 2),
        draftCall: 1.5,
      });
      const drafter = new RankedDrafter(growth, () => rightRank);
      const controller = new BudgetController(
        { drafter: new ClockedDrafter(drafter, target), growth },
        { clock: clock.read },
      );
      const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier: new GreedyVerifier() });
      const drafted: boolean[] = [];
      const result = await decoder.generate(PROMPT, {
        maxTokens: 100,
        onStep: ({ tree }) => drafted.push(tree.size > 1),
      });
      expect(Array.from(result.tokens)).toEqual(
        Array.from(referenceGreedy(model, PROMPT, { maxTokens: 100 })),
      );
      return drafted;
    };
    // Never accepted: 8 start steps, two plain steps to time one, and plain from then on.
    const losing = await starts(1);
    expect(losing.slice(0, 8)).toEqual(Array(8).fill(true));
    expect(losing.slice(8, 40)).toEqual(Array(32).fill(false));
    // Always accepted: the two plain steps, then the start runs its 32 steps.
    const paying = await starts(0);
    expect(paying.slice(0, 8)).toEqual(Array(8).fill(true));
    expect(paying.slice(8, 10)).toEqual([false, false]);
    expect(paying.slice(10, 34)).toEqual(Array(24).fill(true));
  });

  it("counts the chain of first draws by the verifier's chances of reaching each, not by the path taken", async () => {
    // A chain of two the target never accepts (every draft is a wrong token), verified by a
    // verifier that reports chances: each first draw accepted with 0.5 once reached, overlaps of
    // 0.6 at the root and 0.4 below. Expected accepted: one draw 0.6, two 0.6 + 0.5 × 0.4 = 0.8.
    const growth = new StaticTreeGrowth(StaticTreeShape.chain(2));
    const clock = new Clock();
    const target = new ClockedTarget(new ToyTarget(model), clock, { verify: (n) => 10 + n, draftCall: 1 });
    const drafter = new RankedDrafter(growth, () => 1);
    const greedy = new GreedyVerifier();
    const verifier: Verifier = {
      name: 'chances',
      verify(input: VerifyInput, result: VerifyResult) {
        greedy.verify(input, result);
        result.firstDraws.count = 2;
        result.firstDraws.ratios.set([0.5, 0.5]);
        result.firstDraws.overlaps.set([0.6, 0.4]);
      },
      reset: () => greedy.reset(),
    };
    const controller = new BudgetController(
      { drafter: new ClockedDrafter(drafter, target), growth },
      { clock: clock.read, fixed: true },
    );
    const decoder = new SpeculativeDecoder({ target, drafter: controller, verifier });
    const result = await decoder.generate(PROMPT, { maxTokens: 40 });
    expect(Array.from(result.tokens)).toEqual(Array.from(referenceGreedy(model, PROMPT, { maxTokens: 40 })));
    expect(result.stats.tau).toBe(1);
    expect(controller.expectedAccepted(candidate(controller, 1, 1))).toBeCloseTo(0.6, 6);
    expect(controller.expectedAccepted(candidate(controller, 2, 2))).toBeCloseTo(0.8, 6);
  });
});
