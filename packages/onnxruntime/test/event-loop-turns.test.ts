import { describe, expect, it } from 'vitest';
import { EventLoopTurns, MAX_HOLD_MS } from '../src/event-loop-turns.js';

/** An event loop under test control: a clock to set and the callbacks queued for its next turn. */
function manualLoop() {
  const loop = { now: 0, queued: [] as (() => void)[] };
  const turn = () => {
    const callbacks = loop.queued.splice(0);
    for (const callback of callbacks) callback();
  };
  const turns = new EventLoopTurns(
    MAX_HOLD_MS,
    () => loop.now,
    (callback) => loop.queued.push(callback),
  );
  return { loop, turn, turns };
}

describe('EventLoopTurns', () => {
  it('sends the first call to the next turn, then lets calls run at once until the loop has been held too long', () => {
    const { loop, turn, turns } = manualLoop();
    expect(turns.mayRunNow()).toBe(false);
    turn();
    loop.now = 5;
    expect(turns.mayRunNow()).toBe(true);
    loop.now = MAX_HOLD_MS - 0.01;
    expect(turns.mayRunNow()).toBe(true);
    loop.now = MAX_HOLD_MS;
    expect(turns.mayRunNow()).toBe(false);
    turn();
    expect(turns.mayRunNow()).toBe(true);
  });

  it('queues one marker at a time, and counts any turn of the loop, whoever caused it', () => {
    const { loop, turn, turns } = manualLoop();
    for (let i = 0; i < 5; i++) turns.mayRunNow();
    expect(loop.queued).toHaveLength(1);
    loop.now = 100;
    turn();
    expect(loop.queued).toHaveLength(0);
    loop.now = 110;
    expect(turns.mayRunNow()).toBe(true);
    expect(loop.queued).toHaveLength(1);
  });

  it('sends every call to the next turn when the loop may not be held at all', () => {
    const loop = { now: 0, queued: [] as (() => void)[] };
    const turns = new EventLoopTurns(
      0,
      () => loop.now,
      (callback) => loop.queued.push(callback),
    );
    for (let i = 0; i < 3; i++) {
      expect(turns.mayRunNow()).toBe(false);
      for (const callback of loop.queued.splice(0)) callback();
    }
  });
});
