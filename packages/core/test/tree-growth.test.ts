import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DraftTree,
  DynamicTreeGrowth,
  OptionError,
  StaticTreeGrowth,
  StaticTreeShape,
} from '../src/index.js';

/** Drives a growth with scripted log-probs: each expansion gets `wanted` children with the given scores. */
function grow(
  growth: DynamicTreeGrowth | StaticTreeGrowth,
  logProbFor: (node: number, rank: number) => number,
): { tree: DraftTree; generated: number; frontiers: number[][] } {
  const frontier = new Int32Array(growth.maxFrontier);
  const frontiers: number[][] = [];
  growth.begin(99);
  for (let n = growth.nextFrontier(frontier); n > 0; n = growth.nextFrontier(frontier)) {
    frontiers.push(Array.from(frontier.subarray(0, n)));
    for (let f = 0; f < n; f++) {
      const node = frontier[f];
      const wanted = growth.childrenWanted(node);
      // Children must come best first, as a drafter's top-k would give them.
      const lps = Array.from({ length: wanted }, (_, r) => logProbFor(node, r)).sort((a, b) => b - a);
      for (const [r, lp] of lps.entries()) growth.addChild(node, node * 100 + r, lp);
    }
  }
  const tree = new DraftTree(growth.maxTreeSize);
  growth.finish(tree);
  return { tree, generated: growth.generated, frontiers };
}

const dynamicOptions = fc.record({
  topK: fc.integer({ min: 1, max: 6 }),
  frontier: fc.integer({ min: 1, max: 6 }),
  depth: fc.integer({ min: 0, max: 5 }),
  totalTokens: fc.integer({ min: 2, max: 81 }),
});

describe('EAGLE-2 dynamic tree', () => {
  it('keeps a connected tree of exactly min(totalTokens, generated) nodes, the root counted', () => {
    fc.assert(
      fc.property(dynamicOptions, fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (options, seed, coarse) => {
        const growth = new DynamicTreeGrowth(options);
        // Coarse log-probs create many exact ties, which the rerank must break toward ancestors.
        let s = seed;
        const rand = () => {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          return s / 2 ** 32;
        };
        const { tree, generated } = grow(growth, () =>
          coarse ? -Math.floor(rand() * 3) : Math.log(rand() + 1e-9),
        );
        expect(tree.size).toBe(Math.min(options.totalTokens, generated));
        // Tokens are unique per generated node (node * 100 + rank), so each kept node can be
        // traced back to the node it was generated from: its tree parent must be its real parent.
        const nodeOfToken = new Map<number, number>();
        for (let id = 0; id < generated; id++) nodeOfToken.set(growth.tokenOf(id), id);
        for (let i = 1; i < tree.size; i++) {
          const id = nodeOfToken.get(tree.tokens[i]) as number;
          expect(tree.tokens[tree.parents[i]]).toBe(growth.tokenOf(growth.parentOf(id)));
          expect(tree.parents[i]).toBeGreaterThanOrEqual(0);
          expect(tree.parents[i]).toBeLessThan(i);
          expect(tree.depths[i]).toBe(tree.depths[tree.parents[i]] + 1);
          expect(tree.scores[i]).toBeLessThanOrEqual(tree.scores[tree.parents[i]]);
        }
      }),
      { seed: 11, numRuns: 400 },
    );
  });

  it('keeps the best-scoring nodes: nothing dropped outscores anything kept', () => {
    fc.assert(
      fc.property(dynamicOptions, fc.integer({ min: 1, max: 1e6 }), (options, seed) => {
        const growth = new DynamicTreeGrowth(options);
        let s = seed;
        const rand = () => {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          return s / 2 ** 32;
        };
        const { tree, generated } = grow(growth, () => Math.log(rand() + 1e-9));
        const all = Array.from({ length: generated - 1 }, (_, i) => growth.scoreOf(i + 1)).sort(
          (a, b) => b - a,
        );
        const kept = Array.from(tree.scores.subarray(1, tree.size)).sort((a, b) => b - a);
        expect(kept).toEqual(all.slice(0, kept.length));
      }),
      { seed: 12, numRuns: 300 },
    );
  });

  it('expands the topK best nodes of the newest depth, and the root first', () => {
    const growth = new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 101 });
    const scores: Record<number, number[]> = { 0: [-0.1, -2], 1: [-0.5, -0.6], 2: [-0.05, -3] };
    const { frontiers } = grow(growth, (node, rank) => scores[node]?.[rank] ?? -1);
    // root -> nodes 1 (-0.1), 2 (-2); depth 2 from 1: 3 (-0.6), 4 (-0.7); from 2: 5 (-2.05), 6 (-5)
    expect(frontiers).toEqual([[0], [1, 2], [3, 4]]);
  });

  it('expands only the best `frontier` nodes per depth when the frontier is narrower than topK', () => {
    const growth = new DynamicTreeGrowth({ topK: 3, frontier: 1, depth: 2, totalTokens: 101 });
    const { frontiers, generated } = grow(growth, (node, rank) => -0.1 * (rank + 1) - 0.01 * node);
    expect(frontiers.map((f) => f.length)).toEqual([1, 1, 1]);
    expect(generated).toBe(1 + 3 * 3);
    expect(growth.maxNodes).toBe(10);
  });

  it('breaks score ties toward ancestors so the kept set stays connected', () => {
    // Every child has log-prob 0: all nodes tie with the root's children.
    const growth = new DynamicTreeGrowth({ topK: 2, depth: 3, totalTokens: 6 });
    const { tree } = grow(growth, () => 0);
    expect(tree.size).toBe(6);
    for (let i = 1; i < tree.size; i++) expect(tree.parents[i]).toBeLessThan(i);
    expect(Array.from(tree.depths.subarray(0, tree.size))).toEqual([0, 1, 1, 2, 2, 2]);
  });

  it('orders siblings best first and parents before children', () => {
    const growth = new DynamicTreeGrowth({ topK: 3, depth: 2, totalTokens: 13 });
    const { tree } = grow(growth, (node, rank) => -0.3 * (rank + 1) - 0.01 * node);
    for (let i = 2; i < tree.size; i++) {
      if (tree.parents[i] === tree.parents[i - 1])
        expect(tree.scores[i]).toBeLessThanOrEqual(tree.scores[i - 1]);
    }
  });

  it('stops expanding when the best frontier probability falls below the threshold', () => {
    const growth = new DynamicTreeGrowth({ topK: 2, depth: 5, totalTokens: 51, minFrontierProbability: 0.2 });
    const { frontiers, tree } = grow(growth, () => Math.log(0.5));
    // depth-1 best 0.5, depth-2 best 0.25, depth-3 best 0.125 < 0.2: expanded at depths 0, 1, 2 only.
    expect(frontiers.length).toBe(3);
    expect(tree.maxDepth()).toBe(3);
  });

  it('counts depth after the root and total tokens with the root, as the reference EAGLE-2 does', () => {
    // EAGLE's default budget: the root's 10 children, then 5 more levels, 60 nodes with the root.
    const growth = new DynamicTreeGrowth({ topK: 10, depth: 5, totalTokens: 60 });
    const { tree, frontiers } = grow(growth, (node, rank) => -0.1 * (rank + 1) - 0.001 * node);
    expect(frontiers.length).toBe(6);
    expect(tree.size).toBe(60);
    expect(growth.maxTreeSize).toBe(60);
    expect(growth.maxDepth).toBe(6);
    const rootOnly = grow(new DynamicTreeGrowth({ topK: 3, depth: 0, totalTokens: 3 }), () => -1);
    expect(rootOnly.frontiers).toEqual([[0]]);
    expect(rootOnly.tree.size).toBe(3);
  });

  it('rejects invalid budgets with errors that name the option, the value and the range', () => {
    expect(() => new DynamicTreeGrowth({ topK: 0 })).toThrow(OptionError);
    expect(() => new DynamicTreeGrowth({ topK: 0 })).toThrow(
      'option "topK" must be an integer in [1, 4096]; got 0',
    );
    expect(() => new DynamicTreeGrowth({ depth: -1 })).toThrow(
      'option "depth" must be an integer in [0, 1023]; got -1',
    );
    expect(() => new DynamicTreeGrowth({ totalTokens: 1 })).toThrow(
      /option "totalTokens" must be an integer in \[2, 1048576\]; got 1/,
    );
    expect(() => new DynamicTreeGrowth({ depth: 2.5 })).toThrow(/got 2.5/);
    expect(() => new DynamicTreeGrowth({ minFrontierProbability: 1 })).toThrow(/minFrontierProbability/);
  });
});

describe('static trees', () => {
  it('builds the shape given as paths of child ranks, breadth first', () => {
    const shape = new StaticTreeShape([[0, 0, 0], [1], [0, 1], [2, 0]]);
    // nodes: root, [0], [1], [2], [0,0], [0,1], [2,0], [0,0,0]
    expect(shape.size).toBe(8);
    expect(Array.from(shape.parents)).toEqual([-1, 0, 0, 0, 1, 1, 3, 4]);
    expect(Array.from(shape.childrenWanted)).toEqual([3, 2, 0, 1, 1, 0, 0, 0]);
    const { tree } = grow(new StaticTreeGrowth(shape), (node, rank) => -rank - node);
    expect(tree.size).toBe(8);
    expect(Array.from(tree.parents.subarray(0, 8))).toEqual([-1, 0, 0, 0, 1, 1, 3, 4]);
  });

  it('drops drafted ranks that the shape does not contain', () => {
    const shape = new StaticTreeShape([[2]]);
    const { tree } = grow(new StaticTreeGrowth(shape), (_n, rank) => -rank);
    expect(tree.size).toBe(2);
    expect(tree.tokens[1]).toBe(2);
  });

  it('grows a chain of the requested length for classic speculative decoding', () => {
    const { tree, frontiers } = grow(new StaticTreeGrowth(StaticTreeShape.chain(4)), () => -0.5);
    expect(tree.size).toBe(5);
    expect(Array.from(tree.parents.subarray(0, 5))).toEqual([-1, 0, 1, 2, 3]);
    expect(frontiers).toEqual([[0], [1], [2], [3]]);
  });

  it('keeps the part of a shape within an EAGLE budget: depth, children, frontier and nodes', () => {
    // The sampled-tree shape: three draws at the root, a deep chain below the first.
    const shape = new StaticTreeShape([
      [0, 0, 0, 0, 0, 0],
      [0, 1, 0],
      [1, 0, 0],
      [2, 0],
    ]);
    const paths = (s: StaticTreeShape) =>
      Array.from({ length: s.size - 1 }, (_, k) => {
        const path: number[] = [];
        for (let n = k + 1; n > 0; n = s.parents[n]!) path.unshift(s.ranks[n]!);
        return path.join('');
      });
    expect(paths(shape.within({}))).toEqual(paths(shape));
    // Nodes are cut in cap order: the deep chain of first draws before the second draws.
    expect(paths(shape.within({ totalTokens: 3 }))).toEqual(['0', '00']);
    expect(paths(shape.within({ depth: 0 }))).toEqual(['0', '1', '2']);
    expect(paths(shape.within({ topK: 1 }))).toEqual(['0', '00', '000', '0000', '00000', '000000']);
    expect(paths(shape.within({ topK: 1, depth: 1, totalTokens: 8 }))).toEqual(['0', '00']);
    // One node expanded per level: the deep chain under the first draw, the other draws leaves.
    expect(paths(shape.within({ topK: 3, frontier: 1, depth: 3 }))).toEqual([
      '0',
      '1',
      '2',
      '00',
      '01',
      '000',
      '0000',
    ]);
    expect(paths(shape.within({ topK: 2, totalTokens: 6 }))).toEqual(['0', '00', '000', '0000', '00000']);
    expect(paths(shape.within({ topK: 2, depth: 1, totalTokens: 5 }))).toEqual(['0', '1', '00', '01']);
    expect(() => shape.within({ totalTokens: 1 })).toThrow(/totalTokens/);
    expect(() => shape.within({ depth: -1 })).toThrow(/depth/);
    expect(() => new StaticTreeShape([[1]]).within({ topK: 1 })).toThrow(/no child below rank 1/);
  });

  it('keeps a part of the shape within every limit, always its root’s first child', () => {
    const pathArb = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 });
    const limitsArb = fc.record(
      {
        topK: fc.integer({ min: 1, max: 4 }),
        frontier: fc.integer({ min: 1, max: 4 }),
        depth: fc.integer({ min: 0, max: 6 }),
        totalTokens: fc.integer({ min: 2, max: 40 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(pathArb, { minLength: 1, maxLength: 8 }), limitsArb, (given, limits) => {
        const shape = new StaticTreeShape([[0], ...given]);
        const kept = shape.within(limits);
        const key = (s: StaticTreeShape, n: number): string => {
          const path: number[] = [];
          for (let m = n; m > 0; m = s.parents[m]!) path.unshift(s.ranks[m]!);
          return path.join(',');
        };
        const all = new Set(Array.from({ length: shape.size }, (_, n) => key(shape, n)));
        const parents = new Map<number, Set<number>>();
        for (let n = 1; n < kept.size; n++) {
          expect(all.has(key(kept, n))).toBe(true);
          expect(kept.depths[n]).toBeLessThanOrEqual((limits.depth ?? 99) + 1);
          expect(kept.ranks[n]).toBeLessThan(limits.topK ?? 99);
          const level = kept.depths[kept.parents[n]!]!;
          parents.set(level, (parents.get(level) ?? new Set()).add(kept.parents[n]!));
        }
        for (const expanded of parents.values())
          expect(expanded.size).toBeLessThanOrEqual(limits.frontier ?? limits.topK ?? 99);
        expect(kept.size - 1).toBeLessThanOrEqual((limits.totalTokens ?? 99) - 1);
        expect(kept.size).toBeGreaterThanOrEqual(2);
      }),
    );
  });

  it('rejects empty paths and negative ranks', () => {
    expect(() => new StaticTreeShape([])).toThrow(OptionError);
    expect(() => new StaticTreeShape([[]])).toThrow(/non-empty/);
    expect(() => new StaticTreeShape([[0, -1]])).toThrow(/paths\[\]\[\]/);
    expect(() => StaticTreeShape.chain(0)).toThrow(/"length"/);
  });
});
