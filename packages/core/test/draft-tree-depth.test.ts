import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContractError, DraftTree } from '../src/index.js';
import { arbitraryTree } from './arbitraries.js';

/** Each node as the token path from the root to it, the root's token first. */
function paths(tree: DraftTree): string[] {
  return Array.from({ length: tree.size }, (_, i) => {
    const tokens: number[] = [];
    for (let n = i; n >= 0; n = tree.parents[n]) tokens.unshift(tree.tokens[n]);
    return tokens.join(' ');
  });
}

describe('DraftTree.copyToDepth', () => {
  it('keeps exactly the nodes at most that deep, in order, each under its own parent', () => {
    fc.assert(
      fc.property(arbitraryTree(30), fc.integer({ min: 0, max: 12 }), (tree, depth) => {
        const cut = new DraftTree(tree.size);
        cut.reset(99);
        cut.copyToDepth(tree, depth);
        const expected = paths(tree).filter((_, i) => tree.depths[i] <= depth);
        expect(paths(cut)).toEqual(expected);
        for (let i = 1; i < cut.size; i++) {
          expect(cut.parents[i]).toBeLessThan(i);
          expect(cut.depths[i]).toBe(cut.depths[cut.parents[i]] + 1);
        }
        expect(Array.from(cut.scores.subarray(0, cut.size))).toEqual(
          Array.from(tree.scores.subarray(0, tree.size)).filter((_, i) => tree.depths[i] <= depth),
        );
      }),
    );
  });

  it('fits the cut tree into a smaller capacity and refuses one too small', () => {
    const tree = new DraftTree(5);
    tree.reset(1);
    tree.add(tree.add(tree.add(0, 2, -1), 3, -2), 4, -3);
    tree.add(0, 5, -4);
    const small = new DraftTree(3);
    small.copyToDepth(tree, 1);
    expect(Array.from(small.tokens.subarray(0, small.size))).toEqual([1, 2, 5]);
    expect(() => small.copyToDepth(tree, 2)).toThrow(/capacity/);
  });
});

describe('DraftTree.cutToDepth', () => {
  it('keeps in place exactly what copyToDepth keeps', () => {
    fc.assert(
      fc.property(arbitraryTree(30), fc.integer({ min: 0, max: 12 }), (tree, depth) => {
        const copy = new DraftTree(tree.size);
        copy.copyToDepth(tree, depth);
        tree.cutToDepth(depth);
        expect(paths(tree)).toEqual(paths(copy));
        expect(Array.from(tree.parents.subarray(0, tree.size))).toEqual(
          Array.from(copy.parents.subarray(0, copy.size)),
        );
        expect(Array.from(tree.scores.subarray(0, tree.size))).toEqual(
          Array.from(copy.scores.subarray(0, copy.size)),
        );
      }),
    );
  });

  it('refuses a tree whose draft distributions are indexed by node', () => {
    const tree = new DraftTree(3);
    tree.reset(1);
    tree.add(tree.add(0, 2, -1), 3, -2);
    tree.candidateKind = 'sampled-distinct';
    tree.draftDistributions = new Float32Array(12);
    expect(() => tree.cutToDepth(1)).toThrow(/draft distributions/);
    expect(tree.size).toBe(3);
  });
});

describe('DraftTree.copyFirstPath', () => {
  it('follows each node’s first child, up to the depth asked', () => {
    const tree = new DraftTree(6);
    tree.reset(1);
    const a = tree.add(0, 2, -1);
    tree.add(0, 3, -2);
    const c = tree.add(a, 4, -1.5);
    tree.add(a, 5, -3);
    tree.add(c, 6, -2);
    const path = new DraftTree(4);
    for (const [depth, tokens] of [
      [0, [1]],
      [2, [1, 2, 4]],
      [9, [1, 2, 4, 6]],
    ] as const) {
      path.copyFirstPath(tree, depth);
      expect(Array.from(path.tokens.subarray(0, path.size))).toEqual(tokens);
      expect(Array.from(path.parents.subarray(0, path.size))).toEqual(tokens.map((_, i) => i - 1));
    }
    expect(tree.firstChild(a)).toBe(c);
    expect(tree.firstChild(5)).toBe(-1);
  });
});

describe('DraftTree.add', () => {
  it('refuses a node whose parent is not in the tree yet', () => {
    const tree = new DraftTree(8);
    tree.reset(1);
    const child = tree.add(0, 5, 0);
    for (const parent of [-1, 2, 7, 0.5, Number.NaN]) {
      expect(() => tree.add(parent, 6, 0)).toThrow(ContractError);
    }
    expect(tree.size).toBe(2);
    expect(tree.depths[tree.add(child, 6, 0)]).toBe(2);
  });
});
