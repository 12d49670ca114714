import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DraftTree,
  DynamicTreeGrowth,
  StaticTreeGrowth,
  StaticTreeShape,
  type TreeGrowth,
} from '../src/index.js';

/** Grows one tree with deterministic scores (children of node n: -(n + r + 1) / 7). */
function grow(growth: TreeGrowth): DraftTree {
  const frontier = new Int32Array(growth.maxFrontier);
  growth.begin(5);
  for (let n = growth.nextFrontier(frontier); n > 0; n = growth.nextFrontier(frontier)) {
    for (let f = 0; f < n; f++) {
      const node = frontier[f];
      for (let r = 0; r < growth.childrenWanted(node); r++)
        growth.addChild(node, node * 10 + r, -(node + r + 1) / 7);
    }
  }
  const tree = new DraftTree(growth.maxTreeSize);
  growth.finish(tree);
  return tree;
}

function isConnected(tree: DraftTree): boolean {
  for (let i = 1; i < tree.size; i++) if (!(tree.parents[i] >= 0 && tree.parents[i] < i)) return false;
  return true;
}

describe('per-step caps on tree growth', () => {
  it('caps a dynamic tree at the given depth and node count, and lifts the cap when raised again', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 40 }),
        (topK, frontier, depth, total, capDepth, capNodes) => {
          // `depth` levels of draft nodes and `total` kept nodes beside the root, in the options'
          // conventions (EAGLE's: depth counts the levels after the first, totalTokens the root).
          const growth = new DynamicTreeGrowth({ topK, frontier, depth: depth - 1, totalTokens: total + 1 });
          const full = grow(growth);
          growth.capNext(capDepth, capNodes);
          const capped = grow(growth);
          const d = Math.max(1, Math.min(depth, capDepth));
          const n = Math.max(1, Math.min(total, capNodes));
          expect(capped.maxDepth()).toBeLessThanOrEqual(d);
          expect(capped.size - 1).toBeLessThanOrEqual(n);
          expect(isConnected(capped)).toBe(true);
          // The capped tree is what a growth built with that budget keeps.
          const reference = grow(new DynamicTreeGrowth({ topK, frontier, depth: d - 1, totalTokens: n + 1 }));
          expect(Array.from(capped.tokens.subarray(0, capped.size))).toEqual(
            Array.from(reference.tokens.subarray(0, reference.size)),
          );
          growth.capNext(depth, total);
          expect(Array.from(grow(growth).tokens.subarray(0, full.size))).toEqual(
            Array.from(full.tokens.subarray(0, full.size)),
          );
        },
      ),
      { seed: 11, numRuns: 200 },
    );
  });

  it('caps a static shape to its first nodes in the order its paths are listed, keeping node ids equal to tree indices', () => {
    // Cap order: (0), (0,0), (0,0,0), (0,1), (1), (1,0), (1,1); breadth first the ids are
    // 1 = (0), 2 = (1), 3 = (0,0), 4 = (0,1), 5 = (1,0), 6 = (1,1), 7 = (0,0,0).
    const shape = new StaticTreeShape([
      [0, 0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]);
    const growth = new StaticTreeGrowth(shape);
    expect(grow(growth).size).toBe(shape.size);
    const pathsOf = (tree: DraftTree) =>
      Array.from({ length: tree.size - 1 }, (_, k) => {
        const ranks: number[] = [];
        for (let n = k + 1; n > 0; n = tree.parents[n]) ranks.unshift(tree.tokens[n] % 10);
        return ranks.join('');
      });
    growth.capNext(2, 2);
    expect(pathsOf(grow(growth))).toEqual(['0', '00']);
    growth.capNext(2, 3);
    const capped = grow(growth);
    expect(pathsOf(capped)).toEqual(['0', '00', '01']);
    expect(isConnected(capped)).toBe(true);
    // Its node 2 is (0,0) and node 3 is (0,1): a cap of (2, 2) keeps the first, not the second.
    expect(growth.capKeeps(2, 2, 3)).toBe(true);
    expect(growth.capKeeps(3, 2, 3)).toBe(true);
    expect(growth.capKeeps(2, 2, 2)).toBe(true);
    expect(growth.capKeeps(3, 2, 2)).toBe(false);
    // Under (2, 3) every node of (2, 2) and (1, 1) is grown; the second draw at the root of (1, 2) is not.
    expect(growth.capCovers(2, 2)).toBe(true);
    expect(growth.capCovers(1, 1)).toBe(true);
    expect(growth.capCovers(1, 2)).toBe(false);
    growth.capNext(1, 100);
    const shallow = grow(growth);
    expect(shallow.maxDepth()).toBe(1);
    expect(shallow.size).toBe(3);
    growth.capNext(3, 5);
    expect(pathsOf(grow(growth))).toEqual(['0', '1', '00', '01', '000']);
  });
});
