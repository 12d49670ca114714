import { describe, expect, it } from 'vitest';
import { type LoadProgress, ProgressTracker } from '../src/internal.js';

describe('ProgressTracker', () => {
  it('adds up the files and knows the total only once every started file has a size', () => {
    const tracker = new ProgressTracker();
    tracker.start('a', 1000, false);
    tracker.start('b', null, false);
    tracker.update('a', 400);
    tracker.update('b', 50);
    expect(tracker.snapshot()).toMatchObject({ loaded: 450, total: null, fraction: null, downloaded: 450 });
    tracker.finish('b', 100);
    expect(tracker.snapshot()).toMatchObject({ loaded: 500, total: 1100, downloaded: 500 });
    expect(tracker.snapshot().fraction).toBeCloseTo(500 / 1100, 12);
  });

  it('counts cached bytes as loaded but not as downloaded', () => {
    const tracker = new ProgressTracker();
    tracker.start('net', 300, false);
    tracker.start('cached', 700, true);
    tracker.finish('net', 300);
    tracker.finish('cached', 700);
    const p = tracker.snapshot();
    expect(p).toMatchObject({ loaded: 1000, total: 1000, fraction: 1, downloaded: 300 });
    expect(p.files.map((f) => [f.url, f.fromCache, f.done])).toEqual([
      ['net', false, true],
      ['cached', true, true],
    ]);
  });

  it('reports chunk updates at most once per interval, but every start and finish', () => {
    let now = 0;
    const reports: LoadProgress[] = [];
    const tracker = new ProgressTracker((p) => reports.push(p), { intervalMs: 50, now: () => now });
    tracker.start('a', 100, false); // reported (start)
    now = 10;
    tracker.update('a', 10); // within 50 ms of the last report: dropped
    now = 60;
    tracker.update('a', 20); // reported
    now = 70;
    tracker.update('a', 30); // dropped
    tracker.finish('a', 100); // reported (finish)
    expect(reports.map((r) => r.loaded)).toEqual([0, 20, 100]);
  });

  it('reports a load of nothing as complete', () => {
    expect(new ProgressTracker().snapshot()).toMatchObject({ loaded: 0, total: 0, fraction: 1 });
  });
});
