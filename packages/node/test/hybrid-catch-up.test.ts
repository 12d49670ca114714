import type { HybridDrafter } from '@treespec/drafters';
import { HEAD_PROMPT_ROWS } from '@treespec/planner';
import { describe, expect, it } from 'vitest';
import { CallLog, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

describe("the hybrid's EAGLE head after steps it sat out", () => {
  it('catches up on the newest 16 rows at most, to the same text as plain decoding', async () => {
    const log = new CallLog();
    const generator = await loadTreespec(TINY, {
      drafter: 'hybrid',
      hybridPolicy: 'match',
      budget: 'fixed',
      tree: { topK: 2, depth: 2, totalTokens: 4 },
      callLog: log,
    });
    try {
      const hybrid = generator.drafters.hybrid as HybridDrafter;
      let satOutRows = 0;
      let longestSatOut = 0;
      for (const { prompt } of devPrompts(6)) {
        // A passage said twice: the model-free drafters match it for many steps the head sits out.
        const repeated = `${prompt} ${prompt}`;
        const plain = await generator.generate(repeated, { maxTokens: 64, plain: true });
        log.reset();
        const r = await generator.generate(repeated, {
          maxTokens: 64,
          onStep: (e) => {
            satOutRows = hybrid.lastChoice === 0 ? 0 : satOutRows + e.pathLength;
            longestSatOut = Math.max(longestSatOut, satOutRows);
          },
        });
        expect(r.text).toBe(plain.text);
        const calls = log.toJSON();
        for (let c = 1; c < calls.model.length; c++) {
          // The head's first call of a step commits the rows the target accepted since its last.
          if (calls.model[c] !== 'drafter' || calls.model[c - 1] !== 'target') continue;
          expect(calls.rows[c]).toBeLessThanOrEqual(Math.max(HEAD_PROMPT_ROWS, 16));
          if (c > calls.model.indexOf('drafter')) expect(calls.rows[c]).toBeLessThanOrEqual(16);
        }
      }
      expect(longestSatOut).toBeGreaterThan(16);
      expect(hybrid.steps[0]).toBeGreaterThan(0);
    } finally {
      await generator.dispose();
    }
  }, 120_000);
});
