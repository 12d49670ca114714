import type { InferenceSession } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { CallLog, loggedSession, summarizeCalls } from '../src/call-log.js';

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
    const gathered = { model: ['drafter' as const], rows: [7], ms: [0.5] };
    log.appendTo(gathered);
    expect(gathered).toEqual({ model: ['drafter', 'target'], rows: [7, 1], ms: [0.5, 2.5] });
  });
});

describe('loggedSession', () => {
  it('logs the rows of the input ids feed and the time until the outputs were back', async () => {
    const ticks = [10, 13.5, 20, 20.25];
    const session = {
      inputNames: ['input_ids'],
      run: async (feeds: Record<string, { dims: number[] }>) => ({ echoed: feeds.input_ids.dims }),
    } as unknown as InferenceSession;
    const log = new CallLog();
    const logged = loggedSession(session, 'drafter', 'input_ids', log, () => ticks.shift() as number);
    const feeds = (rows: number) =>
      ({ input_ids: { dims: [1, rows] } }) as unknown as InferenceSession.FeedsType;
    expect(await logged.run(feeds(3))).toEqual({ echoed: [1, 3] });
    await logged.run(feeds(1));
    expect(logged.inputNames).toEqual(['input_ids']);
    expect(log.toJSON()).toEqual({ model: ['drafter', 'drafter'], rows: [3, 1], ms: [3.5, 0.25] });
  });
});

describe('summarizeCalls', () => {
  it('groups target calls by rows and drafter calls by whether a target or a drafter call ran before', () => {
    const summary = summarizeCalls({
      model: ['target', 'drafter', 'drafter', 'drafter', 'target', 'target', 'drafter', 'drafter', 'target'],
      rows: [12, 12, 1, 2, 4, 1, 3, 1, 4],
      ms: [9, 2, 0.5, 0.7, 5, 4, 1.5, 0.6, 6],
    });
    expect(summary.targetByRows).toEqual({
      1: { calls: 1, meanRows: 1, medianMs: 4, meanMs: 4 },
      4: { calls: 2, meanRows: 4, medianMs: 5.5, meanMs: 5.5 },
      12: { calls: 1, meanRows: 12, medianMs: 9, meanMs: 9 },
    });
    expect(summary.drafterAfterTarget).toEqual({ calls: 2, meanRows: 7.5, medianMs: 1.75, meanMs: 1.75 });
    expect(summary.drafterAfterDrafter.calls).toBe(3);
    expect(summary.drafterAfterDrafter.meanRows).toBeCloseTo(4 / 3, 12);
    expect(summary.drafterAfterDrafter.medianMs).toBe(0.6);
    expect(summary.drafterAfterDrafter.meanMs).toBeCloseTo(0.6, 12);
  });

  it('gives empty groups for a log without calls of a kind', () => {
    const empty = { calls: 0, meanRows: 0, medianMs: 0, meanMs: 0 };
    expect(summarizeCalls({ model: ['target'], rows: [1], ms: [3] })).toEqual({
      targetByRows: { 1: { calls: 1, meanRows: 1, medianMs: 3, meanMs: 3 } },
      drafterAfterTarget: empty,
      drafterAfterDrafter: empty,
    });
  });
});
