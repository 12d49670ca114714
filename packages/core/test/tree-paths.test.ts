import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContractError, DraftTree, KeepPlan, planKeep, rootToLeafPaths } from '../src/index.js';
import { ancestorsOf, arbitraryTree, randomWalk } from './arbitraries.js';

describe('root-to-leaf paths', () => {
  it('lists one path per leaf, each a chain of parent links from the root', () => {
    fc.assert(
      fc.property(arbitraryTree(), (tree) => {
        const paths = rootToLeafPaths(tree);
        const isParent = new Set(Array.from(tree.parents.subarray(1, tree.size)));
        const leaves = Array.from({ length: tree.size }, (_, i) => i).filter((i) => !isParent.has(i));
        expect(paths.map((p) => p[p.length - 1])).toEqual(leaves);
        for (const p of paths) {
          expect(p[0]).toBe(0);
          for (let k = 1; k < p.length; k++) expect(tree.parents[p[k]]).toBe(p[k - 1]);
        }
      }),
      { seed: 5, numRuns: 200 },
    );
  });
});

describe('keep-plan', () => {
  it('keeps exactly the accepted slots, in path order', () => {
    fc.assert(
      fc.property(arbitraryTree(), fc.array(fc.nat(), { maxLength: 40 }), (tree, choices) => {
        const path = randomWalk(tree, choices);
        const plan = planKeep(tree, Int32Array.from(path), path.length, new KeepPlan(tree.size));
        expect(Array.from(plan.slots.subarray(0, plan.count))).toEqual(path);
        for (let k = 0; k < plan.count; k++) {
          expect(ancestorsOf(tree, plan.slots[k]).size).toBe(k + 1);
          if (k < plan.firstMove) expect(plan.slots[k]).toBe(k);
        }
      }),
      { seed: 6, numRuns: 300 },
    );
  });

  it('compacts an in-place cache correctly when applied in order', () => {
    fc.assert(
      fc.property(arbitraryTree(), fc.array(fc.nat(), { maxLength: 40 }), (tree, choices) => {
        const path = randomWalk(tree, choices);
        const plan = planKeep(tree, Int32Array.from(path), path.length, new KeepPlan(tree.size));
        const cache = Array.from({ length: tree.size }, (_, i) => 1000 + i);
        for (let k = plan.firstMove; k < plan.count; k++) cache[k] = cache[plan.slots[k]];
        expect(cache.slice(0, plan.count)).toEqual(path.map((s) => 1000 + s));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('rejects a path that skips a generation, leaves the tree or does not start at the root', () => {
    const tree = new DraftTree(4);
    tree.reset(1);
    tree.add(0, 2, -1);
    tree.add(1, 3, -2);
    tree.add(0, 4, -3);
    const plan = new KeepPlan(4);
    expect(() => planKeep(tree, Int32Array.from([0, 2]), 2, plan)).toThrow(ContractError);
    expect(() => planKeep(tree, Int32Array.from([0, 9]), 2, plan)).toThrow(/slot 9 at step 1/);
    expect(() => planKeep(tree, Int32Array.from([1, 2]), 2, plan)).toThrow(/start at the root/);
    expect(planKeep(tree, Int32Array.from([0, 1, 2]), 3, plan).count).toBe(3);
  });
});
