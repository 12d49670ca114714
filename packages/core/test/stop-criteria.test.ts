import { describe, expect, it } from 'vitest';
import { EosStop, OptionError, type StopMatch, TokenSequenceStop } from '../src/index.js';

const match: StopMatch = { end: 0, keep: 0 };

describe('stop criteria', () => {
  it('stops after the first EOS among several new tokens, keeping it', () => {
    const eos = new EosStop([2, 9]);
    const tokens = Int32Array.from([1, 5, 6, 9, 2, 7]);
    expect(eos.check(tokens, 2, 2, 6, match)).toBe(true);
    expect(match).toEqual({ end: 4, keep: 4 });
    expect(eos.check(tokens, 2, 4, 4, match)).toBe(false);
  });

  it('finds a stop sequence that started in an earlier step and drops it', () => {
    const stop = new TokenSequenceStop([[7, 8, 9]]);
    const tokens = Int32Array.from([1, 4, 7, 8, 9, 3]);
    expect(stop.check(tokens, 1, 4, 6, match)).toBe(true);
    expect(match).toEqual({ end: 5, keep: 2 });
  });

  it('ignores matches that reach into the prompt', () => {
    const stop = new TokenSequenceStop([[7, 8]]);
    expect(stop.check(Int32Array.from([7, 8, 1]), 1, 1, 3, match)).toBe(false);
  });

  it('holds back a generated tail that could still become a stop sequence', () => {
    const stop = new TokenSequenceStop([[7, 8, 9], [5]]);
    expect(stop.pending(Int32Array.from([1, 3, 7, 8]), 1, 4)).toBe(2);
    expect(stop.pending(Int32Array.from([1, 3, 7]), 1, 3)).toBe(1);
    expect(stop.pending(Int32Array.from([1, 3, 4]), 1, 3)).toBe(0);
    expect(stop.pending(Int32Array.from([7, 8]), 2, 2)).toBe(0);
  });

  it('rejects empty stop sequences and negative ids by name', () => {
    expect(() => new TokenSequenceStop([[]])).toThrow(OptionError);
    expect(() => new TokenSequenceStop([[1], [3, -1]])).toThrow(/stopSequences\[1\]\[\]/);
    expect(() => new EosStop([-2])).toThrow(/eosTokenIds/);
  });
});
