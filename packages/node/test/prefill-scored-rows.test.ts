import { join } from 'node:path';
import { causalLmLayout } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { targetEntry } from './converted-target.js';
import { prefillFeeds } from './prefill-feeds.js';
import { TINY, targetCases } from './tiny.js';

/**
 * The tiny target's `score_rows` input (manifest version 3): a prefill's lm_head covers its last
 * row only, and nothing else a call returns changes with it.
 */
describe("the tiny target's scored rows", () => {
  it('give the last row the logits of a call that scores every row, and every row the same cache entries', async () => {
    const layout = causalLmLayout(targetEntry(TINY));
    const { names, vocabSize } = layout;
    expect(names.scoreRows).toBe('score_rows');
    const session = await createSession(join(TINY, 'target.onnx'));
    try {
      const ids = targetCases()[0]!.prompt_ids.slice(0, 12);
      const rows = ids.length;
      const feeds = (scored: number) => prefillFeeds(layout, ids, scored);
      const fetches = [
        names.logits,
        names.feature,
        names.greedy!.token,
        ...names.presentKeys,
        ...names.presentValues,
      ];
      const every = await session.run(feeds(rows), fetches);
      const last = await session.run(feeds(1), fetches);
      expect(every[names.logits]!.dims).toEqual([1, rows, vocabSize]);
      expect(last[names.logits]!.dims).toEqual([1, 1, vocabSize]);
      expect(last[names.logits]!.data).toEqual(
        (every[names.logits]!.data as Float32Array).subarray((rows - 1) * vocabSize),
      );
      expect(Array.from(last[names.greedy!.token]!.data as Int32Array)).toEqual([
        (every[names.greedy!.token]!.data as Int32Array)[rows - 1],
      ]);
      for (const name of [names.feature, ...names.presentKeys, ...names.presentValues])
        expect(last[name]!.data, name).toEqual(every[name]!.data);
    } finally {
      await session.release();
    }
  });
});
