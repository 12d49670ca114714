import { DraftTree, VerifyResult } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { StochasticVerifier } from '../src/index.js';

describe("a stochastic verifier's chances of a sampled tree's first draws", () => {
  it('gives each first draw its min(1, p/q) and its parent row its overlap Σ min(p, q), on the target weights', () => {
    // Root → token 1 → token 2, and a second draw (token 3) at the root that is no first draw.
    const tree = new DraftTree(4);
    tree.reset(0);
    tree.add(0, 1, 0);
    tree.add(0, 3, 0);
    tree.add(1, 2, 0);
    tree.candidateKind = 'sampled-distinct';
    // q of the root's row and of node 1's row (the leaves' rows are never read).
    tree.draftDistributions = Float32Array.from([
      0.1, 0.6, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    // p = weights / mass: the root's row 0.1 0.2 0.3 0.4, node 1's 0.2 0.2 0.4 0.2.
    const sampleWeights = Float32Array.from([1, 2, 3, 4, 2, 2, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
    const sampleMasses = Float32Array.from([10, 10, 4, 4]);
    const verifier = new StochasticVerifier({ temperature: 1 });
    verifier.setSeed(5);
    const result = new VerifyResult(4);
    verifier.verify(
      {
        tree,
        logits: new Float32Array(0),
        sampledTokens: Int32Array.from([3, 2, 0, 0]),
        logitSums: Float32Array.from([1, 1, 1, 1]),
        sampleWeights,
        sampleMasses,
        vocabSize: 4,
        context: Int32Array.from([0]),
        contextLength: 1,
        promptLength: 1,
      },
      result,
    );
    const { firstDraws } = result;
    expect(firstDraws.count).toBe(2);
    expect(firstDraws.ratios[0]).toBeCloseTo(0.2 / 0.6, 6);
    expect(firstDraws.overlaps[0]).toBeCloseTo(0.1 + 0.2 + 0.2 + 0.1, 6);
    expect(firstDraws.ratios[1]).toBeCloseTo(1, 6);
    expect(firstDraws.overlaps[1]).toBeCloseTo(0.2 + 0.2 + 0.25 + 0.2, 6);
  });
});
