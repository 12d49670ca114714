import { describe, expect, it } from 'vitest';
import { CallLog, loadTreespec, summarizeCalls } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

describe('a call log on a loaded bundle', () => {
  it("records every model call of a generation, the load's warm-up left out", async () => {
    const log = new CallLog();
    const generator = await loadTreespec(TINY, {
      drafter: 'eagle2',
      budget: 'fixed',
      tree: { topK: 2, depth: 1, totalTokens: 4 },
      callLog: log,
    });
    try {
      expect(log.size).toBe(0);
      const tokensLeft: number[] = [];
      let generated = 0;
      const r = await generator.generate(devPrompts(1)[0]!.prompt, {
        maxTokens: 24,
        onStep: (e) => {
          tokensLeft.push(24 - generated);
          generated += e.pathLength;
        },
      });
      const calls = log.toJSON();
      const targets = calls.model.flatMap((m, i) => (m === 'target' ? [i] : []));
      expect(targets).toHaveLength(r.stats.targetCalls);
      // The prefill, then one verification per step of the trees the stats report.
      expect(calls.model[0]).toBe('target');
      expect(calls.rows[0]).toBe(r.promptTokens.length - 1);
      const verified = targets.slice(1).reduce((sum, i) => sum + calls.rows[i]!, 0);
      expect(verified).toBeCloseTo(r.stats.meanTreeSize * r.stats.steps, 9);
      expect(calls.ms.every((ms) => ms > 0)).toBe(true);

      // Each step drafts two levels: one head call right after the target's, one after its own;
      // one level where two tokens are left (the second could not be kept), none for a last
      // token left alone.
      const summary = summarizeCalls(calls);
      expect(summary.drafterAfterTarget.calls).toBe(tokensLeft.filter((left) => left > 1).length);
      expect(summary.drafterAfterDrafter.calls).toBe(tokensLeft.filter((left) => left > 2).length);
      expect(tokensLeft.filter((left) => left > 2).length).toBeGreaterThan(3);
      expect(Object.keys(summary.targetByRows).map(Number)).toContain(r.promptTokens.length - 1);

      log.reset();
      await generator.generate(devPrompts(1)[0]!.prompt, { maxTokens: 8, plain: true });
      expect(new Set(log.toJSON().model)).toEqual(new Set(['target']));
    } finally {
      await generator.dispose();
    }
  }, 60_000);
});
