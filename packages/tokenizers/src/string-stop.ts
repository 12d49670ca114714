import type { StopCriterion, StopMatch, StreamingDecoder, Tokenizer } from '@treespec/core';
import { StopStringMatcher } from './stop-string-matcher.js';

/** Options of {@link StringStopCriterion}. */
export interface StringStopOptions {
  /** Match against text without special tokens, as it is shown. Default true. */
  skipSpecialTokens?: boolean;
}

/** Where a stop string matched, in tokens and in text; see {@link StringStopCriterion}. */
export interface StringStopMatch extends StopMatch {
  /** The stop string that matched. */
  readonly stop: string;
  /** Its index in the criterion's `stops`. */
  readonly stopIndex: number;
  /** The prompt length of the generation it matched in (so `keep - promptLength` tokens are kept). */
  readonly promptLength: number;
  /**
   * UTF-16 length of the generated text before the stop string: the exact output text is the
   * first `textLength` code units of the generated text.
   */
  readonly textLength: number;
  /**
   * Code units to cut from the end of the text of the kept tokens (`promptLength .. keep`) to
   * get exactly the text before the stop string; non-zero when the stop string starts inside a
   * token.
   */
  readonly trimChars: number;
}

/**
 * Stops a generation at the first occurrence of any of the given strings in the generated
 * text, found across token boundaries and across steps without decoding the whole text: each
 * new token goes through the tokenizer's streaming decoder (a window of a few tokens) and each new
 * character through an Aho–Corasick automaton, so a step costs what its new tokens cost.
 *
 * Semantics (they do not depend on how the text is split into tokens or steps):
 * - The match is the occurrence that ends first in the text (the longest, if several end at
 *   the same character). Text is matched once it is final (a character whose last byte has
 *   arrived), and the generated text is decoded in the context of the prompt's last tokens.
 * - `end` is the sequence length at which that text became final (the token completing the
 *   stop string).
 * - `keep` is the shortest prefix of tokens whose text holds everything before the stop string.
 *   When the stop string starts at a token boundary, no token of it is kept. When it starts in
 *   the middle of a token ("Hello\nUser:" where "o\n" is one token and the stop is "\nUser:"),
 *   that token is kept, because part of its text is output, and `trimChars` says how much of
 *   its text to cut; `textLength` gives the same cut measured from the start. {@link TextStream}
 *   applies the cut. (When the character before the stop string was still provisional at its
 *   token, an invalid byte or a space that `clean_up_tokenization_spaces` may remove, one more
 *   token is kept and its text cut entirely; the text is exact either way.)
 * - `pending()` holds back every token whose text could still become part of a match (from the
 *   one containing the start of the longest partial match, or a character still incomplete), so
 *   a streaming caller never has to take back a token or a character it has shown.
 */
export class StringStopCriterion implements StopCriterion {
  readonly reason = 'stop' as const;
  /** The stop strings. */
  readonly stops: readonly string[];
  private readonly matcher: StopStringMatcher;
  private readonly decoder: StreamingDecoder;
  /** For generated token g: length of the final generated text after it. */
  private stable = new Int32Array(64);
  /** For generated token g: length of the text after it including what is still held back. */
  private full = new Int32Array(64);
  private promptLength = -1;
  private processed = 0;
  private textLength = 0;
  private state = 0;
  private found: StringStopMatch | null = null;

  /**
   * @param tokenizer The tokenizer of the generating model.
   * @param stops Non-empty strings; an empty list never stops.
   */
  constructor(tokenizer: Tokenizer, stops: readonly string[], options: StringStopOptions = {}) {
    this.matcher = new StopStringMatcher(stops);
    this.stops = this.matcher.patterns;
    this.decoder = tokenizer.streamingDecoder({ skipSpecialTokens: options.skipSpecialTokens ?? true });
  }

  /** The match of the current generation once one is found; null before, and after `reset()`. */
  get lastMatch(): StringStopMatch | null {
    return this.found;
  }

  reset(): void {
    this.promptLength = -1;
    this.processed = 0;
    this.textLength = 0;
    this.state = 0;
    this.found = null;
  }

  check(tokens: Int32Array, promptLength: number, _from: number, length: number, match: StopMatch): boolean {
    this.advance(tokens, promptLength, length);
    const found = this.found;
    if (found === null || found.end > length) return false;
    match.end = found.end;
    match.keep = found.keep;
    return true;
  }

  pending(tokens: Int32Array, promptLength: number, length: number): number {
    this.advance(tokens, promptLength, length);
    if (this.found !== null) return 0;
    const depth = this.matcher.depth(this.state);
    if (depth === 0 && this.decoder.heldBackLength === 0) return 0;
    const from = this.firstTokenAffectedFrom(this.textLength - depth);
    return this.processed - from;
  }

  /** Decodes and scans the generated tokens not seen yet, stopping at the first match. */
  private advance(tokens: Int32Array, promptLength: number, length: number): void {
    if (promptLength !== this.promptLength || length < promptLength + this.processed) {
      this.reset();
      this.decoder.reset(tokens.subarray(0, promptLength));
      this.promptLength = promptLength;
    }
    const { matcher, decoder } = this;
    while (this.found === null && promptLength + this.processed < length) {
      const g = this.processed;
      const delta = decoder.pushId(tokens[promptLength + g]!);
      const before = this.textLength;
      let state = this.state;
      let hit = -1;
      let hitEnd = 0;
      for (let k = 0; k < delta.length; k++) {
        state = matcher.next(state, delta.charCodeAt(k));
        const m = matcher.match(state);
        if (m >= 0) {
          hit = m;
          hitEnd = before + k + 1;
          break;
        }
      }
      this.state = state;
      this.textLength = before + delta.length;
      this.record(g, this.textLength, this.textLength + decoder.heldBackLength);
      this.processed = g + 1;
      if (hit >= 0) this.found = this.describe(hit, hitEnd, promptLength + g + 1, promptLength);
    }
  }

  private describe(index: number, hitEnd: number, end: number, promptLength: number): StringStopMatch {
    const stop = this.stops[index]!;
    const start = hitEnd - stop.length;
    let kept = 0;
    let trimChars = 0;
    if (start > 0) {
      const t = this.firstReaching(start);
      kept = t + 1;
      trimChars = this.full[t]! - start;
    }
    return {
      end,
      keep: promptLength + kept,
      stop,
      stopIndex: index,
      promptLength,
      textLength: start,
      trimChars,
    };
  }

  /**
   * The first generated token that a match starting at text position `q` could drop or cut:
   * the token holding character q, or the one after the last token whose text ends at q.
   */
  private firstTokenAffectedFrom(q: number): number {
    if (q <= 0) return 0;
    const t = this.firstReaching(q);
    return this.stable[t]! > q ? t : t + 1;
  }

  /** The first generated token after which the final text is at least `q` long. */
  private firstReaching(q: number): number {
    let lo = 0;
    let hi = this.processed - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.stable[mid]! >= q) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private record(g: number, stable: number, full: number): void {
    if (g >= this.stable.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.stable = grow(this.stable);
      this.full = grow(this.full);
    }
    this.stable[g] = stable;
    this.full[g] = full;
  }
}
