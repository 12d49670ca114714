import type { GenerationStats } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { describeStepCosts, stepCosts } from '../src/internal.js';

function stats(over: Partial<GenerationStats>): GenerationStats {
  return {
    promptTokens: 10,
    generatedTokens: 64,
    targetCalls: 33,
    steps: 32,
    tau: 2,
    acceptedLengths: [],
    acceptanceByDepth: [],
    meanTreeSize: 4,
    prefillMs: 20,
    draftMs: 32,
    verifyMs: 128,
    bookkeepingMs: 16,
    totalMs: 196,
    tokensPerSecond: 364,
    ...over,
  };
}

const controller = {
  steps: 32,
  plainSteps: 4,
  probeSteps: 1,
  meanDepth: 2,
  meanNodes: 4,
  predictedTokensPerStep: 2,
  actualTokensPerStep: 2,
  predictedMsPerStep: 5.4,
  actualMsPerStep: 5.5,
  meanDraftRun: 8,
  costs: {
    plainStep: 3.2,
    verify: [
      [1, 3],
      [4, 4.5],
    ] as Array<[number, number]>,
    draft: [[2, 1.5]] as Array<[number, number]>,
    overhead: 0.2,
    entering: 1.2,
    starting: 2.2,
    leaving: 1.1,
  },
};

describe('stepCosts', () => {
  it('splits a step into draft, verify and the rest, and prices verification against a plain call', () => {
    const spec = { stats: stats({ controller }), postMs: 3.2 };
    const plain = { stats: stats({ steps: 64, verifyMs: 192, draftMs: 0, bookkeepingMs: 8, totalMs: 220 }) };
    const c = stepCosts(spec, plain);
    expect(c).toEqual({
      steps: 32,
      treeNodes: 4,
      stepMs: 5.5,
      draftMs: 1,
      verifyMs: 4,
      otherMs: 0.5,
      postMs: 0.1,
      plainTokenMs: 3.125,
      plainCallMs: 3,
      verifyByNodes: [
        [1, 3, 1],
        [4, 4.5, 1.5],
      ],
      draftByDepth: [[2, 1.5]],
    });
    expect(describeStepCosts(c)).toBe(
      'step 5.50 ms = draft 1.00 + verify 4.00 (4.0 nodes) + other 0.50 (posting 0.10); plain token 3.13 ms. ' +
        'Verify ÷ plain call: 4 nodes 1.5×. Draft: depth 2 1.50 ms.',
    );
  });

  it('leaves the plain columns empty without a plain run, and the controller columns without a controller', () => {
    const c = stepCosts({ stats: stats({}) }, null);
    expect(c.plainTokenMs).toBeNull();
    expect(c.plainCallMs).toBeNull();
    expect(c.postMs).toBe(0);
    expect(c.verifyByNodes).toEqual([]);
    expect(describeStepCosts(c)).toBe(
      'step 5.50 ms = draft 1.00 + verify 4.00 (4.0 nodes) + other 0.50 (posting 0.00).',
    );
  });
});
