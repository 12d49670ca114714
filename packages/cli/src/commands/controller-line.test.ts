import { describe, expect, it } from 'vitest';
import type { BenchRow } from './bench.js';
import { controllerLine } from './controller-line.js';

type Controller = NonNullable<BenchRow['controller']>;

function controller(costs: Partial<Controller['costs']>): Controller {
  return {
    steps: 0,
    ofSteps: 12,
    plainShare: 0,
    probeShare: 0,
    meanDepth: 0,
    meanNodes: 0,
    predictedTokensPerStep: 0,
    actualTokensPerStep: 0,
    predictedMsPerStep: 0,
    actualMsPerStep: 0,
    meanDraftRun: 0,
    costs: {
      plainStep: 0,
      verify: [],
      draft: [],
      overhead: 0,
      entering: 1,
      starting: 1,
      leaving: 1,
      ...costs,
    },
  };
}

describe('controllerLine', () => {
  it('is null for a drafter without a budget controller', () => {
    expect(controllerLine({})).toBeNull();
  });

  it('lists the prices the controller measured, by tree size and by depth', () => {
    const line = controllerLine({
      controller: controller({
        plainStep: 1.62,
        verify: [
          [2, 2.31],
          [8, 3.4],
        ],
        draft: [[1, 0.3]],
      }),
    });
    expect(line).toContain('plain step 1.62 ms, verify ms by nodes 2:2.3 8:3.4, draft ms by depth 1:0.3,');
  });

  it('says so where the controller timed no step (a hybrid whose model part never ran)', () => {
    const line = controllerLine({ controller: controller({}) });
    expect(line).toContain('decided 0 of 12 steps');
    expect(line).toContain(
      'plain step untimed, verify ms by nodes none measured, draft ms by depth none measured,',
    );
  });
});
