import { DraftTree, type StepOutcome } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { NodeChances } from '../src/node-chances.js';

/** A chain of `probabilities.length` nodes (each its own cumulative probability), the first `accepted` of them accepted. */
function chain(probabilities: readonly number[], accepted: number): StepOutcome {
  const tree = new DraftTree(probabilities.length + 1);
  tree.reset(0);
  for (const [i, p] of probabilities.entries()) tree.add(i, i + 1, Math.log(p));
  const path = Int32Array.from({ length: accepted + 1 }, (_, i) => i);
  return { step: 0, tree, path, pathLength: accepted + 1, bonusToken: 0 };
}

describe('node chances', () => {
  it('reads a probability as its own chance before anything is verified', () => {
    const chances = new NodeChances(4);
    expect(chances.chance(1, 0.15)).toBeCloseTo(0.15);
    expect(chances.chance(3, 0.002)).toBeCloseTo(0.002);
  });

  it('learns per depth and probability band what the target accepts', () => {
    const chances = new NodeChances(4);
    // Depth 1 drafted at 0.15 and depth 2 at 0.05 are both accepted half the time.
    for (let i = 0; i < 100; i++) chances.record(chain([0.15, 0.05], i % 2 === 0 ? 2 : 0));
    expect(chances.chance(1, 0.15)).toBeCloseTo((50 + 2 * 0.15) / 102);
    expect(chances.chance(2, 0.05)).toBeCloseTo((50 + 2 * 0.05) / 102);
    // Other bands and depths keep their prior.
    expect(chances.chance(1, 0.6)).toBeCloseTo(0.6);
    expect(chances.chance(3, 0.15)).toBeCloseTo(0.15);
  });

  it('follows the text once a band has seen its memory of nodes', () => {
    const chances = new NodeChances(2, 20);
    for (let i = 0; i < 20; i++) chances.record(chain([0.5], 1));
    expect(chances.chance(1, 0.5)).toBeGreaterThan(0.95);
    for (let i = 0; i < 60; i++) chances.record(chain([0.5], 0));
    expect(chances.chance(1, 0.5)).toBeLessThan(0.1);
  });

  it('forgets everything it learnt when cleared, reading each probability as its chance again', () => {
    const chances = new NodeChances(2);
    for (let i = 0; i < 300; i++) chances.record(chain([0.5, 0.3], 0));
    expect(chances.chance(1, 0.5)).toBeLessThan(0.01);
    chances.clear();
    expect(chances.chance(1, 0.5)).toBeCloseTo(0.5);
    expect(chances.chance(2, 0.3)).toBeCloseTo(0.3);
    chances.record(chain([0.5], 1));
    expect(chances.chance(1, 0.5)).toBeCloseTo((1 + 2 * 0.5) / 3);
  });

  it("expects of a tree the sum of its nodes' chances, each capped at its parent's", () => {
    const chances = new NodeChances(3);
    const tree = new DraftTree(5);
    tree.reset(0);
    const a = tree.add(0, 1, Math.log(0.6));
    tree.add(0, 2, Math.log(0.2));
    tree.add(a, 3, Math.log(0.5));
    // Before anything is verified a node's chance is its probability: 0.6 + 0.2 + 0.5.
    expect(chances.expectedAccepted(tree)).toBeCloseTo(1.3);
    // Depth 1 at 0.5–0.7 learnt to be rejected: its child cannot be likelier than it.
    for (let i = 0; i < 50; i++) chances.record(chain([0.6], 0));
    const first = (2 * 0.6) / 52;
    expect(chances.expectedAccepted(tree)).toBeCloseTo(first + 0.2 + first);
  });
});
