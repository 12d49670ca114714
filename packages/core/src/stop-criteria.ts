import { OptionError } from './errors.js';
import { requireInteger } from './validate.js';

/** Why a generation ended. */
export type FinishReason = 'length' | 'eos' | 'stop' | 'abort' | 'context';

/** Where a stop criterion matched; written by {@link StopCriterion.check}. */
export interface StopMatch {
  /** Sequence length at which the match became complete (its last token is `end - 1`). */
  end: number;
  /** Sequence length to keep: `end` to keep the match (EOS), its start to drop it (stop sequences). */
  keep: number;
}

/**
 * Decides where a generation stops. After every step the loop calls `check` with the committed
 * tokens. Criteria see several new tokens at once, so a match can start in an earlier step and
 * end anywhere inside the new ones; the match that completes first wins, as it would have in
 * plain one-token-at-a-time decoding.
 */
export interface StopCriterion {
  /** The finish reason reported when this criterion ends the generation. */
  readonly reason: FinishReason;
  /** Forgets the previous generation. */
  reset(): void;
  /**
   * `tokens[0..length)` is the committed sequence, `[promptLength, length)` generated, and
   * `[from, length)` new since the last call. On a match, writes the earliest one into `match`
   * (with `promptLength <= keep <= end <= length`) and returns true.
   */
  check(tokens: Int32Array, promptLength: number, from: number, length: number, match: StopMatch): boolean;
  /**
   * How many trailing generated tokens could still turn out to be part of a match. A streaming
   * loop holds them back, so that nothing it has emitted is ever taken back.
   */
  pending(tokens: Int32Array, promptLength: number, length: number): number;
}

/** Stops right after any of the given end-of-sequence tokens, keeping it. */
export class EosStop implements StopCriterion {
  readonly reason = 'eos' as const;
  private readonly ids: Int32Array;

  constructor(eosTokenIds: readonly number[]) {
    for (const id of eosTokenIds) requireInteger('eosTokenIds[]', id, 0);
    this.ids = Int32Array.from(eosTokenIds);
  }

  reset(): void {}

  check(tokens: Int32Array, _promptLength: number, from: number, length: number, match: StopMatch): boolean {
    for (let i = from; i < length; i++) {
      const t = tokens[i];
      for (let k = 0; k < this.ids.length; k++) {
        if (this.ids[k] === t) {
          match.end = i + 1;
          match.keep = i + 1;
          return true;
        }
      }
    }
    return false;
  }

  pending(): number {
    return 0;
  }
}

/**
 * Stops at the first occurrence of any of the given token sequences inside the generated
 * tokens, dropping the sequence itself.
 */
export class TokenSequenceStop implements StopCriterion {
  readonly reason = 'stop' as const;
  private readonly sequences: Int32Array[];
  private readonly longest: number;

  constructor(sequences: readonly (readonly number[])[]) {
    this.sequences = sequences.map((seq, i) => {
      if (!Array.isArray(seq) || seq.length === 0) {
        throw new OptionError(`stopSequences[${i}]`, seq, 'a non-empty array of token ids');
      }
      for (const id of seq) requireInteger(`stopSequences[${i}][]`, id, 0);
      return Int32Array.from(seq);
    });
    this.longest = this.sequences.reduce((m, s) => Math.max(m, s.length), 0);
  }

  reset(): void {}

  check(tokens: Int32Array, promptLength: number, from: number, length: number, match: StopMatch): boolean {
    for (let end = from + 1; end <= length; end++) {
      for (const seq of this.sequences) {
        const start = end - seq.length;
        if (start < promptLength) continue;
        let k = 0;
        while (k < seq.length && tokens[start + k] === seq[k]) k++;
        if (k === seq.length) {
          match.end = end;
          match.keep = start;
          return true;
        }
      }
    }
    return false;
  }

  pending(tokens: Int32Array, promptLength: number, length: number): number {
    const maxTail = Math.min(this.longest - 1, length - promptLength);
    for (let tail = maxTail; tail > 0; tail--) {
      for (const seq of this.sequences) {
        if (seq.length <= tail) continue;
        let k = 0;
        while (k < tail && tokens[length - tail + k] === seq[k]) k++;
        if (k === tail) return tail;
      }
    }
    return 0;
  }
}
