import { DraftTree } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { AcceptanceEstimates, matchClass } from '../src/acceptance-estimates.js';
import { committedTokens, replayAccepted } from '../src/replay-acceptance.js';

describe('acceptance estimates', () => {
  it('groups match lengths by powers of two', () => {
    expect([0, 1, 2, 3, 4, 7, 8, 15, 16, 1000].map(matchClass)).toEqual([0, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });

  it('averages exact observations and lets censored ones only raise the estimate', () => {
    const e = new AcceptanceEstimates([Number.POSITIVE_INFINITY, 0], 0.5);
    expect(e.estimate(0, 2)).toBe(Number.POSITIVE_INFINITY);
    expect(e.estimate(1, 2)).toBe(0);
    e.record(1, 2, 3, true);
    e.record(1, 2, 1, true);
    expect(e.estimate(1, 2)).toBe(3);
    expect(e.observations(1, 2)).toBe(0);
    e.record(1, 2, 2);
    expect(e.estimate(1, 2)).toBe(2);
    e.record(1, 2, 6);
    expect(e.estimate(1, 2)).toBe(4);
    e.record(1, 2, 3, true);
    expect(e.estimate(1, 2)).toBe(4);
    e.record(1, 2, 8, true);
    expect(e.estimate(1, 2)).toBe(6);
    expect(e.estimate(1, 3)).toBe(0);
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
    expect(replayAccepted(other, committed, count)).toBe(2);
    other.add(3, 9, -0.8);
    expect(replayAccepted(other, committed, count)).toBe(3);
  });
});
