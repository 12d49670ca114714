import { DraftTree } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { LatestStep } from '../src/latest-step.js';

describe('LatestStep', () => {
  it('keeps a copy of the step that outlives the decoder reusing its tree and path', () => {
    const tree = new DraftTree(8);
    tree.reset(10);
    tree.add(0, 11, -0.1);
    tree.add(1, 12, -0.2);
    const path = Int32Array.from([0, 1, 0, 0]);
    const latest = new LatestStep();
    latest.keep({ step: 3, tree, path, pathLength: 2, bonusToken: 13 });
    tree.reset(20);
    path.fill(7);
    expect(latest.held).toBe(true);
    const kept = latest.take();
    expect(latest.held).toBe(false);
    expect([kept.step, kept.tree.size, kept.pathLength, kept.bonusToken]).toEqual([3, 3, 2, 13]);
    expect(Array.from(kept.tree.tokens.subarray(0, 3))).toEqual([10, 11, 12]);
    expect(Array.from(kept.tree.parents.subarray(0, 3))).toEqual([-1, 0, 1]);
    expect(Array.from(kept.path.subarray(0, 2))).toEqual([0, 1]);
  });

  it('grows its buffers for a larger tree', () => {
    const latest = new LatestStep();
    const small = new DraftTree(2);
    small.reset(1);
    latest.keep({ step: 0, tree: small, path: Int32Array.from([0]), pathLength: 1, bonusToken: 2 });
    const large = new DraftTree(16);
    large.reset(5);
    for (let i = 0; i < 10; i++) large.add(i, 100 + i, -1);
    latest.keep({
      step: 1,
      tree: large,
      path: Int32Array.from({ length: 11 }, (_, i) => i),
      pathLength: 11,
      bonusToken: 6,
    });
    const kept = latest.take();
    expect(kept.tree.size).toBe(11);
    expect(Array.from(kept.path.subarray(0, 11))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
