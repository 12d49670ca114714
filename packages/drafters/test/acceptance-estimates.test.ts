import { DraftTree } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { AcceptanceEstimates, matchClass } from '../src/acceptance-estimates.js';
import { committedTokens, replayFirstPath, replayWalk } from '../src/replay-acceptance.js';

describe('acceptance estimates', () => {
  it('groups match lengths by powers of two', () => {
    expect([0, 1, 2, 3, 4, 7, 8, 15, 16, 1000].map(matchClass)).toEqual([0, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });

  it('reads as the prior until observed, then averages what it observes', () => {
    const e = new AcceptanceEstimates([Number.POSITIVE_INFINITY, 0], 0.5);
    expect(e.estimate(0, 2)).toBe(Number.POSITIVE_INFINITY);
    expect(e.estimate(1, 2)).toBe(0);
    e.record(0, 2, 2);
    expect(e.estimate(0, 2)).toBe(2);
    e.record(0, 2, 6);
    expect(e.estimate(0, 2)).toBe(4);
    expect(e.estimate(0, 3)).toBe(Number.POSITIVE_INFINITY);
  });

  it('replays a tree against committed tokens as greedy verification would walk it', () => {
    const verified = new DraftTree(4);
    verified.reset(1);
    verified.add(0, 5, -0.1);
    verified.add(1, 6, -0.2);
    verified.add(0, 7, -1);
    const committed = new Int32Array(4);
    const count = committedTokens(
      { tree: verified, path: Int32Array.from([0, 1, 2]), pathLength: 3, bonusToken: 9 },
      committed,
    );
    expect(Array.from(committed.subarray(0, count))).toEqual([5, 6, 9]);
    const other = new DraftTree(5);
    other.reset(1);
    other.add(0, 7, -0.5);
    other.add(0, 5, -0.6);
    other.add(2, 6, -0.7);
    expect(replayWalk(other, committed, count)).toBe(3);
    // Along first children only, the walk stops at once: the root's first child is 7, not 5.
    expect(replayFirstPath(other, committed, count)).toBe(0);
    other.add(3, 9, -0.8);
    expect(other.depths[replayWalk(other, committed, count)]).toBe(3);
  });
});
