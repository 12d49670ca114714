import { HEAD_PROMPT_ROWS } from '@treespec/planner';
import { describe, expect, it } from 'vitest';
import { CallLog, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

describe("an EAGLE head's first draft of a generation", () => {
  it('reads the newest HEAD_PROMPT_ROWS rows of a long prompt by default, all of them with headPromptRows 0, to the same text', async () => {
    const prompt = devPrompts(6)
      .map((p) => p.prompt)
      .join(' ');
    const texts: string[] = [];
    for (const headPromptRows of [undefined, 0]) {
      const log = new CallLog();
      const generator = await loadTreespec(TINY, {
        drafter: 'eagle2',
        drafters: ['hybrid'],
        budget: 'fixed',
        tree: { topK: 2, depth: 1, totalTokens: 4 },
        callLog: log,
        ...(headPromptRows === undefined ? {} : { headPromptRows }),
      });
      try {
        const plain = await generator.generate(prompt, { maxTokens: 24, plain: true });
        expect(plain.promptTokens.length).toBeGreaterThan(4 * HEAD_PROMPT_ROWS);
        for (const drafter of ['eagle2', 'hybrid']) {
          log.reset();
          const r = await generator.generate(prompt, { maxTokens: 24, drafter });
          expect(r.text, drafter).toBe(plain.text);
          const calls = log.toJSON();
          const firstHead = calls.model.indexOf('drafter');
          const firstVerify = calls.model.indexOf('target', firstHead);
          // The prefill (in chunks), then the head's catch-up (in chunks) and its draft of the
          // first step's tree, then the first verification.
          expect(
            calls.model.slice(0, firstHead).every((m) => m === 'target'),
            drafter,
          ).toBe(true);
          const headRows = calls.rows.slice(firstHead, firstVerify).reduce((a, b) => a + b, 0);
          if (headPromptRows === 0) {
            expect(headRows, drafter).toBeGreaterThanOrEqual(r.promptTokens.length - 1);
          } else {
            expect(calls.rows[firstHead], drafter).toBe(HEAD_PROMPT_ROWS);
            expect(headRows, drafter).toBeLessThan(HEAD_PROMPT_ROWS + 8);
          }
          texts.push(r.text);
        }
      } finally {
        await generator.dispose();
      }
    }
    expect(new Set(texts).size).toBe(1);
  }, 120_000);
});
