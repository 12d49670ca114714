import type { SuffixAutomaton } from './suffix-automaton.js';
import type { SuffixDrafter } from './suffix-drafter.js';

/**
 * The longest suffix of a token stream that is a substring of an automaton's text (matching
 * statistics), kept up to date one token at a time in amortised O(1): on a token the match
 * either extends by one, or falls back along suffix links until it can extend.
 *
 * The automaton's text may also be the stream itself, one token behind (as in
 * {@link SuffixDrafter}: append token i − 1, then advance by token i), which matches each suffix
 * against the text before it. Appending can then split the matched state, but only into a clone
 * whose longest string is the match, with the same transitions, so the next `advance` reaches the
 * same state from either: `state` is exact after each `advance`.
 */
export class SuffixMatch {
  /** State of the matched suffix (0 when nothing matches). */
  state = 0;
  /** Length of the matched suffix in tokens. */
  length = 0;

  /** Forgets the stream. */
  reset(): void {
    this.state = 0;
    this.length = 0;
  }

  /** Extends the stream by `token`. */
  advance(automaton: SuffixAutomaton, token: number): void {
    let s = this.state;
    let length = this.length;
    while (s > 0 && automaton.next(s, token) < 0) {
      s = automaton.link(s);
      length = automaton.length(s);
    }
    const next = automaton.next(s, token);
    if (next < 0) {
      this.state = 0;
      this.length = 0;
    } else {
      this.state = next;
      this.length = length + 1;
    }
  }
}
