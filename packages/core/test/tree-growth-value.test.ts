import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DraftTree, DynamicTreeGrowth, type TreePricing } from '../src/index.js';

/**
 * Grows one tree whose children get the given log-probs by rank (the same at every node), and
 * counts the depths it grew.
 */
function grow(growth: DynamicTreeGrowth, childLogProbs: readonly number[]): DraftTree {
  const frontier = new Int32Array(growth.maxFrontier);
  growth.begin(5);
  for (let n = growth.nextFrontier(frontier); n > 0; n = growth.nextFrontier(frontier)) {
    for (let f = 0; f < n; f++) {
      const node = frontier[f];
      for (let r = 0; r < growth.childrenWanted(); r++)
        growth.addChild(node, node * 10 + r, childLogProbs[r] ?? -9);
    }
  }
  const tree = new DraftTree(growth.maxTreeSize);
  growth.finish(tree);
  return tree;
}

/** Prices of a machine where a row costs `rowMs`, a draft depth `depthMs`, and chances are the probabilities. */
function pricing(rowMs: number, depthMs: number, chance = (_d: number, p: number) => p): TreePricing {
  return {
    chance,
    verifyMs: (rows) => 10 + rowMs * (rows - 1),
    draftMs: (depth) => depthMs * depth,
    stepMs: 0,
  };
}

/** Expected tokens per ms of `tree` under `prices`, drafted `depth` depths deep. */
function rate(tree: DraftTree, prices: TreePricing, depth: number): number {
  // A node is accepted only after its parent: its chance is at most its parent's.
  const chance = [1];
  let tokens = 1;
  for (let i = 1; i < tree.size; i++) {
    chance[i] = Math.min(
      prices.chance(tree.depths[i], Math.exp(tree.scores[i])),
      chance[tree.parents[i]] as number,
    );
    tokens += chance[i] as number;
  }
  return tokens / (prices.draftMs(depth) + prices.verifyMs(tree.size) + prices.stepMs);
}

describe('trees sized by value', () => {
  it('keeps the nodes that pay for their rows: all of them when rows are cheap, none when dear', () => {
    const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 9 });
    const logProbs = [Math.log(0.9), Math.log(0.05)];
    growth.priceNext(pricing(0.01, 0));
    expect(grow(growth, logProbs).size).toBe(9);
    growth.priceNext(pricing(100, 0));
    const tree = grow(growth, logProbs);
    expect(tree.size).toBe(1);
    expect(growth.expectedAccepted).toBe(0);
    // A node worth 0.9 of a token pays for a 3 ms row against a 10 ms step (0.1 token per ms); one
    // worth 0.05 does not: the chain of likely nodes stays, the unlikely siblings go.
    growth.priceNext(pricing(3, 0));
    const chain = grow(growth, logProbs);
    for (let i = 1; i < chain.size; i++)
      expect(Math.exp(chain.scores[i]) / Math.exp(chain.scores[chain.parents[i]])).toBeCloseTo(0.9);
    expect(chain.size).toBeGreaterThan(1);
    growth.priceNext(null);
    expect(grow(growth, logProbs).size).toBe(9);
    expect(growth.expectedAccepted).toBeNaN();
  });

  it('keeps its likeliest node when told to keep one whatever its chance, where it would pay if accepted', () => {
    const growth = new DynamicTreeGrowth({ topK: 2, frontier: 1, depth: 3, totalTokens: 9 });
    const logProbs = [Math.log(0.9), Math.log(0.05)];
    // Chances a twentieth of the probabilities: no node is worth its 3 ms row (0.3 of a token).
    const doubtful = pricing(3, 0, (_d, p) => p / 20);
    growth.priceNext(doubtful);
    expect(grow(growth, logProbs).size).toBe(1);
    // Told to keep one, it keeps the likeliest: accepted, it would save 7 ms.
    growth.priceNext({ ...doubtful, minNodes: 1 });
    const one = grow(growth, logProbs);
    expect(one.size).toBe(2);
    expect(Math.exp(one.scores[1])).toBeCloseTo(0.9);
    expect(growth.expectedAccepted).toBeCloseTo(0.045);
    // A node that would cost more than it saves even if accepted is not kept.
    growth.priceNext({ ...pricing(100, 0), minNodes: 1 });
    expect(grow(growth, logProbs).size).toBe(1);
    // Where more nodes pay, the floor changes nothing.
    growth.priceNext({ ...pricing(0.01, 0), minNodes: 1 });
    expect(grow(growth, logProbs).size).toBe(9);
  });

  it('stops growing where the next depth cannot pay for its draft call', () => {
    const growth = new DynamicTreeGrowth({ topK: 1, depth: 7, totalTokens: 9 });
    const logProbs = [Math.log(0.5)];
    growth.priceNext(pricing(0.001, 0.001));
    grow(growth, logProbs);
    expect(growth.grownDepth).toBe(8);
    // Chances halve by depth; a 1 ms draft call pays only while the frontier is worth about a
    // tenth of a token at 0.1 token per ms.
    growth.priceNext(pricing(0.1, 1));
    const tree = grow(growth, logProbs);
    expect(growth.grownDepth).toBeLessThan(8);
    expect(growth.grownDepth).toBeGreaterThan(1);
    expect(tree.maxDepth()).toBeLessThanOrEqual(growth.grownDepth);
  });

  it('keeps a connected tree at least as good as every smaller cut by score, within the caps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.double({ min: 0.2, max: 3, noNaN: true }),
        fc.integer({ min: 1, max: 12 }),
        (probabilities, rowMs, calibration, cap) => {
          const sorted = [...probabilities].sort((a, b) => b - a);
          const growth = new DynamicTreeGrowth({ topK: 3, frontier: 2, depth: 3, totalTokens: 30 });
          const prices = pricing(rowMs, 0.5, (d, p) => Math.min(1, p * calibration ** d));
          growth.priceNext(prices);
          growth.capNext(4, cap);
          const tree = grow(
            growth,
            sorted.map((p) => Math.log(p)),
          );
          expect(tree.size - 1).toBeLessThanOrEqual(cap);
          for (let i = 1; i < tree.size; i++) expect(tree.parents[i]).toBeLessThan(i);
          // Any prefix by score of the same nodes is no better.
          const depth = growth.grownDepth;
          const best = rate(tree, prices, depth);
          const unpriced = new DynamicTreeGrowth({ topK: 3, frontier: 2, depth: depth - 1, totalTokens: 30 });
          for (let n = 0; n <= cap; n++) {
            unpriced.capNext(depth, Math.max(1, n));
            const cut = grow(
              unpriced,
              sorted.map((p) => Math.log(p)),
            );
            if (n === 0) cut.size = 1;
            expect(rate(cut, prices, depth)).toBeLessThanOrEqual(best * (1 + 1e-9) + 1e-12);
          }
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });
});
