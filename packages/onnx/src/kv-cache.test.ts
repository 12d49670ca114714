import { ContextOverflowError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { grownRows, KvCache } from './kv-cache.js';
import { SharedKvCache } from './shared-kv-cache.js';

/** A one-layer model's cache names. */
const NAMES = {
  pastKeys: ['past_key.0'],
  pastValues: ['past_value.0'],
  presentKeys: ['present_key.0'],
  presentValues: ['present_value.0'],
  logits: 'logits',
  feature: 'feature',
};

/** Rows of `count` entries of `size` elements, entry r holding r * 100 + j. */
function rowsOf(count: number, size: number, offset = 0): Float32Array {
  return Float32Array.from(
    { length: count * size },
    (_, i) => (Math.floor(i / size) + offset) * 100 + (i % size),
  );
}

describe('grownRows', () => {
  it('at least doubles, rounds up to whole chunks and stops at the capacity', () => {
    expect(grownRows(16, 17, 1000, 16)).toBe(32);
    expect(grownRows(32, 100, 1000, 16)).toBe(112);
    expect(grownRows(512, 513, 600, 16)).toBe(600);
    expect(() => grownRows(600, 601, 600, 16)).toThrow(ContextOverflowError);
  });
});

describe('KvCache', () => {
  it('allocates one chunk first and grows with the rows written, keeping every row', () => {
    const cache = new KvCache(2, 2, 3, 1000, 'float32', 16);
    expect(cache.allocatedRows).toBe(16);
    expect(cache.keys[0]!.length).toBe(16 * 6);
    for (let at = 0; at < 40; at += 10) {
      for (let l = 0; l < 2; l++)
        cache.writeRows(l, rowsOf(10, 6, at), rowsOf(10, 6, at + 1000), null, 10, at);
      cache.length = at + 10;
    }
    expect(cache.allocatedRows).toBe(64);
    expect(Array.from(cache.keyTensor(1, 40).data as Float32Array)).toEqual(Array.from(rowsOf(40, 6)));
    expect(Array.from(cache.valueTensor(0, 40).data as Float32Array)).toEqual(
      Array.from(rowsOf(40, 6, 1000)),
    );
  });

  it('throws ContextOverflowError past its capacity', () => {
    const cache = new KvCache(1, 1, 2, 20, 'float32', 16);
    expect(() => cache.writeRows(0, rowsOf(5, 2), rowsOf(5, 2), null, 5, 18)).toThrow(ContextOverflowError);
  });
});

describe('SharedKvCache', () => {
  /** Writes what a fused model would: rows at..at+n of every head of layer 0's keys and values. */
  function writeAsModel(cache: SharedKvCache, at: number, n: number): void {
    const rows = cache.allocatedRows;
    const d = cache.headDim;
    for (const t of [cache.keyTensors[0]!, cache.valueTensors[0]!]) {
      const data = t.data as Float32Array;
      for (let h = 0; h < cache.kvHeads; h++)
        for (let r = at; r < at + n; r++)
          for (let j = 0; j < d; j++) data[(h * rows + r) * d + j] = h * 1e4 + r * 10 + j;
    }
  }

  function row(cache: SharedKvCache, h: number, r: number): number[] {
    const d = cache.headDim;
    const data = cache.keyTensors[0]!.data as Float32Array;
    return Array.from(
      data.subarray((h * cache.allocatedRows + r) * d, (h * cache.allocatedRows + r + 1) * d),
    );
  }

  it('keeps the accepted rows of a tree in order and moves nothing else', () => {
    const cache = new SharedKvCache(NAMES, 2, 4, 100, 'float32', 16);
    writeAsModel(cache, 0, 12);
    cache.length = 5;
    const before = row(cache, 1, 11);
    cache.keep(Int32Array.from([0, 2, 6]), 3, 5);
    expect(cache.length).toBe(8);
    for (const h of [0, 1]) {
      expect(row(cache, h, 4)).toEqual([h * 1e4 + 40, h * 1e4 + 41, h * 1e4 + 42, h * 1e4 + 43]);
      expect(row(cache, h, 5)[0]).toBe(h * 1e4 + 50);
      expect(row(cache, h, 6)[0]).toBe(h * 1e4 + 70);
      expect(row(cache, h, 7)[0]).toBe(h * 1e4 + 110);
    }
    expect(row(cache, 1, 11)).toEqual(before);
  });

  it('grows per head in chunks, keeping the rows in use, and replaces its tensors', () => {
    const cache = new SharedKvCache(NAMES, 2, 4, 100, 'float32', 16);
    writeAsModel(cache, 0, 16);
    cache.length = 16;
    const old = cache.keyTensors[0];
    expect(cache.reserve(16)).toBe(false);
    expect(cache.reserve(20)).toBe(true);
    expect(cache.keyTensors[0]).not.toBe(old);
    expect(cache.allocatedRows).toBe(32);
    expect(cache.keyTensors[0]!.dims).toEqual([1, 2, 32, 4]);
    expect(row(cache, 1, 15)[0]).toBe(1e4 + 150);
    expect(row(cache, 0, 0)[0]).toBe(0);
    expect(() => cache.reserve(101)).toThrow(ContextOverflowError);
  });
});
