import { OptionError } from '@treespec/core';

/**
 * An Aho–Corasick automaton over UTF-16 code units that finds several stop strings in text fed
 * one code unit at a time. A state is an integer; stepping allocates nothing. A state also tells
 * how long the longest text suffix is that could still grow into a stop string, which is what a
 * streaming loop must hold back.
 */
export class StopStringMatcher {
  /** The stop strings, in the order given. */
  readonly patterns: readonly string[];
  private readonly goto = new Map<number, number>();
  private readonly fail: Int32Array;
  private readonly depths: Int32Array;
  /** Index of the longest pattern that ends in each state, or -1. */
  private readonly output: Int32Array;

  constructor(patterns: readonly string[]) {
    if (!Array.isArray(patterns)) throw new OptionError('stop', patterns, 'an array of non-empty strings');
    patterns.forEach((p, i) => {
      if (typeof p !== 'string' || p.length === 0)
        throw new OptionError(`stop[${i}]`, p, 'a non-empty string');
    });
    this.patterns = [...patterns];
    const depths: number[] = [0];
    const terminal: number[] = [-1];
    for (let i = 0; i < patterns.length; i++) {
      const p = patterns[i]!;
      let state = 0;
      for (let k = 0; k < p.length; k++) {
        const key = state * 0x10000 + p.charCodeAt(k);
        let next = this.goto.get(key);
        if (next === undefined) {
          next = depths.length;
          depths.push(k + 1);
          terminal.push(-1);
          this.goto.set(key, next);
        }
        state = next;
      }
      if (terminal[state] === -1) terminal[state] = i;
    }
    const states = depths.length;
    this.depths = Int32Array.from(depths);
    this.fail = new Int32Array(states);
    this.output = new Int32Array(states).fill(-1);

    // Breadth-first: a state's failure link is the longest proper suffix that is also a prefix.
    const children: number[][] = Array.from({ length: states }, () => []);
    const labels: number[][] = Array.from({ length: states }, () => []);
    for (const [key, child] of this.goto) {
      const parent = Math.floor(key / 0x10000);
      children[parent]!.push(child);
      labels[parent]!.push(key - parent * 0x10000);
    }
    const queue: number[] = [];
    for (const child of children[0]!) {
      this.fail[child] = 0;
      queue.push(child);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head]!;
      this.output[state] = terminal[state] !== -1 ? terminal[state]! : this.output[this.fail[state]]!;
      const kids = children[state]!;
      const codes = labels[state]!;
      for (let c = 0; c < kids.length; c++) {
        const child = kids[c]!;
        let f = this.fail[state]!;
        let target = this.goto.get(f * 0x10000 + codes[c]!);
        while (target === undefined && f !== 0) {
          f = this.fail[f]!;
          target = this.goto.get(f * 0x10000 + codes[c]!);
        }
        this.fail[child] = target ?? 0;
        queue.push(child);
      }
    }
  }

  /** The start state (nothing matched). */
  get start(): number {
    return 0;
  }

  /** The state after reading one UTF-16 code unit. */
  next(state: number, code: number): number {
    let s = state;
    while (true) {
      const target = this.goto.get(s * 0x10000 + code);
      if (target !== undefined) return target;
      if (s === 0) return 0;
      s = this.fail[s]!;
    }
  }

  /**
   * The stop string that ends at this state (the longest, when several end at the same
   * position), as an index into `patterns`; -1 when none.
   */
  match(state: number): number {
    return this.output[state]!;
  }

  /** Length of the longest text suffix that is a prefix of some stop string. */
  depth(state: number): number {
    return this.depths[state]!;
  }
}
