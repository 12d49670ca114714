import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SuffixAutomaton, SuffixMatch } from '../src/index.js';

/** Does `text` contain `pattern` starting at some s with s + pattern.length <= end? */
function occursBefore(text: readonly number[], pattern: readonly number[], end: number): boolean {
  for (let s = 0; s + pattern.length <= end; s++) {
    if (pattern.every((t, i) => text[s + i] === t)) return true;
  }
  return false;
}

/**
 * The brute-force definition: the largest l such that the last l tokens of text[0..n) also occur
 * starting at some s with s + l <= n - 1, i.e. an occurrence that a next token follows.
 */
function longestEarlierSuffix(text: readonly number[], n: number): number {
  let best = 0;
  for (let l = 1; l < n; l++) {
    if (occursBefore(text, text.slice(n - l, n), n - 1)) best = l;
  }
  return best;
}

/** End (inclusive) of the first occurrence of `pattern` in `text`. */
function firstEnd(text: readonly number[], pattern: readonly number[]): number {
  for (let s = 0; s + pattern.length <= text.length; s++) {
    if (pattern.every((t, i) => text[s + i] === t)) return s + pattern.length - 1;
  }
  return -1;
}

/** The largest l such that the last l tokens of text[0..n) occur somewhere in `corpus`. */
function longestSuffixIn(corpus: readonly number[], text: readonly number[], n: number): number {
  let best = 0;
  for (let l = 1; l <= n; l++) {
    if (occursBefore(corpus, text.slice(n - l, n), corpus.length)) best = l;
  }
  return best;
}

const text = (alphabet: number, maxLength: number) =>
  fc.array(fc.integer({ min: 0, max: alphabet - 1 }), { minLength: 1, maxLength });

describe('suffix automaton', () => {
  it('tracks the longest suffix that occurred earlier, as brute force does, on random strings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((a) => text(a, 70)),
        (tokens) => {
          // The drafter's protocol: the automaton lags one token behind the match.
          const automaton = new SuffixAutomaton();
          const match = new SuffixMatch();
          for (let j = 0; j < tokens.length; j++) {
            if (j > 0) automaton.append(tokens[j - 1]);
            match.advance(automaton, tokens[j]);
            const n = j + 1;
            expect(match.length).toBe(longestEarlierSuffix(tokens, n));
            // Both stored end positions of the matched state are occurrences a next token follows.
            if (match.length > 0) {
              const suffix = tokens.slice(n - match.length, n);
              for (const end of [automaton.firstEnd(match.state), automaton.recentEnd(match.state)]) {
                expect(end).toBeLessThanOrEqual(n - 2);
                expect(tokens.slice(end - match.length + 1, end + 1)).toEqual(suffix);
              }
              expect(automaton.firstEnd(match.state)).toBe(firstEnd(tokens, suffix));
              expect(automaton.length(match.state)).toBeGreaterThanOrEqual(match.length);
              expect(automaton.length(automaton.link(match.state))).toBeLessThan(match.length);
            }
          }
        },
      ),
      { seed: 20241108, numRuns: 300 },
    );
  });

  it('accepts exactly the substrings of its text and stays within 2n - 1 states and 3n - 4 transitions', () => {
    fc.assert(
      fc.property(text(3, 60), fc.array(text(3, 6), { minLength: 1, maxLength: 20 }), (tokens, patterns) => {
        const automaton = SuffixAutomaton.of(tokens);
        const n = tokens.length;
        expect(automaton.textLength).toBe(n);
        expect(automaton.size).toBeLessThanOrEqual(Math.max(2, 2 * n - 1));
        if (n >= 3) expect(automaton.transitions).toBeLessThanOrEqual(3 * n - 4);
        for (const pattern of [...patterns, tokens.slice(1), tokens]) {
          let s = 0;
          for (const t of pattern) s = s < 0 ? s : automaton.next(s, t);
          expect(s >= 0).toBe(occursBefore(tokens, pattern, n));
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it('matches a stream against a fixed corpus as brute force does, across unseen tokens', () => {
    fc.assert(
      fc.property(text(4, 50), text(5, 40), (corpus, stream) => {
        const automaton = SuffixAutomaton.of(corpus);
        const match = new SuffixMatch();
        stream.forEach((token, j) => {
          match.advance(automaton, token);
          expect(match.length).toBe(longestSuffixIn(corpus, stream, j + 1));
          if (match.length > 0) {
            const suffix = stream.slice(j + 1 - match.length, j + 1);
            expect(automaton.firstEnd(match.state)).toBe(firstEnd(corpus, suffix));
            const recent = automaton.recentEnd(match.state);
            expect(corpus.slice(recent - match.length + 1, recent + 1)).toEqual(suffix);
          }
        });
      }),
      { seed: 99, numRuns: 300 },
    );
  });

  it('handles large token ids and starts over after reset', () => {
    const automaton = new SuffixAutomaton();
    const big = [150_000, 7, 2_000_000_000, 150_000, 7, 2_000_000_000, 150_000];
    for (const t of big) automaton.append(t);
    let s = 0;
    for (const t of [2_000_000_000, 150_000, 7]) s = automaton.next(s, t);
    expect(s).toBeGreaterThan(0);
    expect(automaton.length(s)).toBeGreaterThanOrEqual(3);
    automaton.reset();
    expect(automaton.size).toBe(1);
    expect(automaton.next(0, 7)).toBe(-1);
    automaton.append(7);
    expect(automaton.next(0, 7)).toBeGreaterThan(0);
  });
});
