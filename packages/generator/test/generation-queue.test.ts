import {
  ChunkChannel,
  type GenerationChunk,
  type GenerationResult,
  type GenerationStream,
  StatsRecorder,
} from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { DisposedError, GenerationQueue, QueueFullError } from '../src/index.js';

/** A stream that logs when it starts and ends after `steps` ticks, or at its signal. */
function fakeStream(log: string[], name: string, signal: AbortSignal, steps = 3): GenerationStream {
  log.push(`start ${name}`);
  const channel = new ChunkChannel<GenerationChunk>(() => {});
  const result = (async (): Promise<GenerationResult> => {
    let n = 0;
    for (; n < steps && !signal.aborted; n++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      channel.push({ tokens: Int32Array.of(n), step: n });
    }
    log.push(`end ${name}`);
    channel.close();
    return {
      tokens: new Int32Array(n),
      finishReason: signal.aborted ? 'abort' : 'length',
      stats: new StatsRecorder(1).summary(1, n),
    };
  })();
  return { result, [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
}

describe('GenerationQueue', () => {
  it('runs one generation at a time, in the order they were asked for', async () => {
    const queue = new GenerationQueue('g');
    const log: string[] = [];
    const streams = ['a', 'b', 'c'].map((name) =>
      queue.stream(1, undefined, (s) => fakeStream(log, name, s)),
    );
    await Promise.all(streams.map((s) => s.result));
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('ends a call aborted while waiting with no tokens, without starting it', async () => {
    const queue = new GenerationQueue('g');
    const log: string[] = [];
    const controller = new AbortController();
    const first = queue.stream(1, undefined, (s) => fakeStream(log, 'a', s));
    const waiting = queue.stream(5, controller.signal, (s) => fakeStream(log, 'b', s));
    controller.abort();
    const r = await waiting.result;
    expect(r.finishReason).toBe('abort');
    expect(r.tokens.length).toBe(0);
    expect(r.stats.promptTokens).toBe(5);
    await first.result;
    expect(log).toEqual(['start a', 'end a']);
    expect(queue.queued).toBe(0);
  });

  it('refuses a call past maxQueued with a QueueFullError and serves the others', async () => {
    const queue = new GenerationQueue('g', 1);
    const log: string[] = [];
    const a = queue.stream(1, undefined, (s) => fakeStream(log, 'a', s));
    const b = queue.stream(1, undefined, (s) => fakeStream(log, 'b', s));
    expect(() => queue.stream(1, undefined, (s) => fakeStream(log, 'c', s))).toThrow(QueueFullError);
    await Promise.all([a.result, b.result]);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it('on close aborts the running call, ends the waiting ones and refuses new ones', async () => {
    const queue = new GenerationQueue('this generator');
    const log: string[] = [];
    const a = queue.stream(1, undefined, (s) => fakeStream(log, 'a', s, 1000));
    const b = queue.stream(1, undefined, (s) => fakeStream(log, 'b', s));
    await queue.close();
    expect((await a.result).finishReason).toBe('abort');
    expect((await b.result).finishReason).toBe('abort');
    expect(log).toEqual(['start a', 'end a']);
    expect(() => queue.stream(1, undefined, (s) => fakeStream(log, 'c', s))).toThrow(DisposedError);
  });

  it('releases the turn when starting a generation throws', async () => {
    const queue = new GenerationQueue('g');
    const log: string[] = [];
    const failing = queue.stream(1, undefined, () => {
      throw new Error('bad options');
    });
    await expect(failing.result).rejects.toThrow('bad options');
    await queue.stream(1, undefined, (s) => fakeStream(log, 'a', s)).result;
    expect(log).toEqual(['start a', 'end a']);
  });
});
