import type * as OrtWeb from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { CallLog, loggedSession } from '../src/call-log.js';

describe('CallLog', () => {
  it('keeps every call in order past its first capacity, and forgets them on reset', () => {
    const log = new CallLog();
    for (let i = 0; i < 600; i++) log.record(i % 3 === 0 ? 'drafter' : 'target', i + 1, i / 4);
    const calls = log.toJSON();
    expect(log.size).toBe(600);
    expect(calls.rows).toHaveLength(600);
    expect(calls.model.slice(0, 4)).toEqual(['drafter', 'target', 'target', 'drafter']);
    expect(calls.rows[599]).toBe(600);
    expect(calls.ms[599]).toBe(149.75);
    log.reset();
    expect(log.toJSON()).toEqual({ model: [], rows: [], ms: [] });
    log.record('target', 1, 2.5);
    expect(log.toJSON()).toEqual({ model: ['target'], rows: [1], ms: [2.5] });
  });
});

describe('loggedSession', () => {
  it('logs the rows of the input ids feed and the time until the outputs were back', async () => {
    const ticks = [10, 13.5, 20, 20.25];
    const session = {
      inputNames: ['input_ids'],
      run: async (feeds: Record<string, { dims: number[] }>) => ({ echoed: feeds.input_ids.dims }),
    } as unknown as OrtWeb.InferenceSession;
    const log = new CallLog();
    const logged = loggedSession(session, 'drafter', 'input_ids', log, () => ticks.shift() as number);
    const feeds = (rows: number) =>
      ({ input_ids: { dims: [1, rows] } }) as unknown as OrtWeb.InferenceSession.FeedsType;
    expect(await logged.run(feeds(3))).toEqual({ echoed: [1, 3] });
    await logged.run(feeds(1));
    expect(logged.inputNames).toEqual(['input_ids']);
    expect(log.toJSON()).toEqual({ model: ['drafter', 'drafter'], rows: [3, 1], ms: [3.5, 0.25] });
  });
});
