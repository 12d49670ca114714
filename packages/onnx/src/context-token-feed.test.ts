import type { Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { ContextTokenFeed } from './context-token-feed.js';

function fed(feed: ContextTokenFeed): number[] {
  const feeds: Record<string, Tensor> = {};
  feed.feed(feeds, 'context_ids');
  expect(feeds.context_ids!.dims).toEqual([feed.size]);
  return Array.from(feeds.context_ids!.data as BigInt64Array, Number);
}

describe('ContextTokenFeed', () => {
  it('lists each context token outside the draft vocabulary once, in the order first seen', () => {
    const feed = new ContextTokenFeed(8, 20, Int32Array.of(1, 2, 3));
    expect(fed(feed)).toEqual([]);
    feed.note(Int32Array.of(9, 2, 7, 9, 1, 12), 0, 6);
    expect(fed(feed)).toEqual([9, 7, 12]);
    feed.note(Int32Array.of(5, 7, 4, 3), 1, 3);
    expect(fed(feed)).toEqual([9, 7, 12, 4]);
  });

  it('once full, lists a new token in place of the one listed longest ago, and ignores ids outside the vocabulary', () => {
    const feed = new ContextTokenFeed(3, 10, Int32Array.of(0));
    feed.note(Int32Array.of(-1, 10, 4, 5, 6), 0, 5);
    expect(fed(feed)).toEqual([4, 5, 6]);
    feed.note(Int32Array.of(7, 5, 8), 0, 3);
    expect(fed(feed)).toEqual([7, 8, 6]);
    feed.note(Int32Array.of(4), 0, 1);
    expect(fed(feed)).toEqual([7, 8, 4]);
  });

  it('gives the target id of each scored column, draft tokens then listed ids as fed, as one array until the listed ids change', () => {
    const feed = new ContextTokenFeed(2, 10, Int32Array.of(0, 3));
    const before = feed.columns();
    expect(Array.from(before)).toEqual([0, 3]);
    feed.note(Int32Array.of(3, 0), 0, 2);
    expect(feed.columns()).toBe(before);
    feed.note(Int32Array.of(6, 3, 8), 0, 3);
    const listed = feed.columns();
    expect(Array.from(listed)).toEqual([0, 3, ...fed(feed)]);
    expect(feed.columns()).toBe(listed);
    feed.note(Int32Array.of(9), 0, 1);
    expect(Array.from(feed.columns())).toEqual([0, 3, ...fed(feed)]);
    expect(fed(feed)).toEqual([9, 8]);
    expect(Array.from(listed)).toEqual([0, 3, 6, 8]);
    feed.clear();
    expect(Array.from(feed.columns())).toEqual([0, 3]);
  });

  it('forgets every listed token when cleared, and lists them again afterwards', () => {
    const feed = new ContextTokenFeed(4, 10, Int32Array.of(0));
    feed.note(Int32Array.of(4, 5), 0, 2);
    feed.clear();
    expect(fed(feed)).toEqual([]);
    feed.note(Int32Array.of(5, 4, 0), 0, 3);
    expect(fed(feed)).toEqual([5, 4]);
  });
});
