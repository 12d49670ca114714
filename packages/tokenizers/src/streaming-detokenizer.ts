import type { StreamingDecoder } from '@treespec/core';
import type { HfTokenizer } from './hf-tokenizer.js';

/** Options of {@link StreamingDetokenizer}. */
export interface StreamingDetokenizerOptions {
  /** Leave out special tokens, as `decode` does by default. Default true. */
  skipSpecialTokens?: boolean;
  /**
   * Ids that come before the streamed ones (typically the prompt; only its last
   * {@link CONTEXT_TOKENS} non-special ids are used, a few more when those end inside a
   * character). They are not emitted; they only make the first streamed
   * token decode as it does in context, e.g. keep the leading space that a SentencePiece
   * decoder strips from the first token of a text.
   */
  context?: ArrayLike<number>;
}

/** Tokens kept before the unconfirmed ones so that first-token decoder rules never hit new text. */
export const CONTEXT_TOKENS = 2;

/** Most context ids looked at to find a context that ends on a whole character. */
const MAX_CONTEXT_TOKENS = 8;

/** Unconfirmed tokens after which the window looks for a split point, so it stays small. */
const MAX_TAIL = 16;

const REPLACEMENT_CHARACTER = 0xfffd;

/**
 * Text endings that `clean_up_tokenization_spaces` may still rewrite once more text follows
 * (" ." → ".", " n't" → "n't", …): the proper prefixes of its patterns, longest first.
 */
const CLEANUP_HAZARDS = [" n'", " 'v", " 'r", ' n', " '", ' '];

/**
 * Turns committed token ids into text as they arrive, in chunks of any size, without ever
 * splitting a character: a byte-level BPE or byte-fallback token can be part of a UTF-8
 * sequence, and SentencePiece decoders change the first token of a text.
 *
 * How: the decoder keeps a small window of ids, the last {@link CONTEXT_TOKENS} ids whose text
 * is final followed by the ids not confirmed yet, and decodes only that window on each push
 * (as text-generation-inference does with its prefix and read offsets). The text after the
 * context is emitted up to a point that later ids cannot change: a trailing U+FFFD (an
 * incomplete UTF-8 sequence) is held back, and so is a trailing " " (or " n", " '", …) when the
 * tokenizer cleans up tokenization spaces. When the window's text is all final, the window drops
 * to its last ids. The work per push is proportional to the window, not to the text so far.
 *
 * Guarantee: the concatenation of every `push` result and `flush()` equals
 * `tokenizer.decode(allIds)` (with the same `skipSpecialTokens`), or, with `context`, the text
 * that `decode(context ++ ids)` has after `decode(context)`. Where clean-up rewrites the end of
 * the context's text (a context ending in " " followed by "."), the stream starts after what
 * is left of it: "." after "Hello ", as `decode` gives "Hello.".
 */
export class StreamingDetokenizer implements StreamingDecoder {
  /** The tokenizer this decoder reads. */
  readonly tokenizer: HfTokenizer;
  /** Whether special tokens are left out. */
  readonly skipSpecialTokens: boolean;
  private readonly window: number[] = [];
  /** `window[0 .. contextCount)` are ids whose text was emitted before the window was cut. */
  private contextCount = 0;
  /** After a cut, `text`/`emitted` still describe the old window until the next push. */
  private stale = false;
  /** `decode(window)` as of the last push. */
  private text = '';
  /** How much of `text` has been returned. */
  private emitted = 0;
  /**
   * The end of the context's text that clean-up may still rewrite: it starts the text not yet
   * returned, and is left out of it unless clean-up rewrote it.
   */
  private contextTail = '';

  constructor(tokenizer: HfTokenizer, options: StreamingDetokenizerOptions = {}) {
    this.tokenizer = tokenizer;
    this.skipSpecialTokens = options.skipSpecialTokens ?? true;
    this.reset(options.context);
  }

  /**
   * Starts over, forgetting everything not flushed. `context` is as in the constructor.
   * Throws `TokenIdError` for a context id outside the vocabulary.
   */
  reset(context?: ArrayLike<number>): void {
    this.window.length = 0;
    this.contextCount = 0;
    this.stale = false;
    this.text = '';
    this.emitted = 0;
    this.contextTail = '';
    if (!context || context.length === 0) return;
    // The last CONTEXT_TOKENS ids, or more when they end inside a character (byte tokens).
    const ids: number[] = [];
    let start = context.length;
    let text = '';
    while (start > 0 && ids.length < MAX_CONTEXT_TOKENS) {
      start--;
      this.tokenizer.checkId(context[start], start);
      if (this.skips(context[start])) continue;
      ids.unshift(context[start]);
      if (ids.length < CONTEXT_TOKENS) continue;
      text = this.tokenizer.decodeUnchecked(ids);
      if (this.stableLength(text) === text.length) break;
    }
    if (ids.length < CONTEXT_TOKENS) text = this.tokenizer.decodeUnchecked(ids);
    // A context that ends inside a character cannot be separated from what follows: then the
    // stream is decoded on its own.
    if (endsInsideCharacter(text)) return;
    this.window.push(...ids);
    this.contextCount = ids.length;
    this.text = text;
    // A context that ends on text clean-up may still rewrite (" ", " n", …) was shown with its
    // prompt: the stream starts before it and leaves it out where it is still there.
    this.emitted = this.stableLength(text);
    this.contextTail = text.slice(this.emitted);
  }

  /**
   * Feeds committed ids; returns the text that is now final (often "", e.g. in the middle of a
   * multi-byte character). Throws `TokenIdError` for an id outside the vocabulary, before
   * consuming any of `ids`.
   */
  push(ids: ArrayLike<number>): string {
    for (let i = 0; i < ids.length; i++) this.tokenizer.checkId(ids[i], i);
    this.refresh();
    const before = this.window.length;
    for (let i = 0; i < ids.length; i++) if (!this.skips(ids[i])) this.window.push(ids[i]);
    return this.window.length === before ? '' : this.update();
  }

  /** Feeds one id; the same as `push([id])` without the array. */
  pushId(id: number): string {
    this.tokenizer.checkId(id, 0);
    if (this.skips(id)) return '';
    this.refresh();
    this.window.push(id);
    return this.update();
  }

  /** Returns the text still held back and starts over (a following push begins a new text). */
  flush(): string {
    const rest = !this.stale && this.emitted < this.text.length ? this.text.slice(this.emitted) : '';
    const unshown = this.afterContextTail(rest);
    this.reset();
    return unshown;
  }

  /** Number of UTF-16 code units decoded but held back (what `flush()` would return now). */
  get heldBackLength(): number {
    if (this.stale) return 0;
    if (this.contextTail === '') return this.text.length - this.emitted;
    return this.afterContextTail(this.text.slice(this.emitted)).length;
  }

  /**
   * `text`, which starts where the context's tail did, without the tail: as shown with the
   * prompt, or as clean-up left it (without its leading space).
   */
  private afterContextTail(text: string): string {
    const tail = this.contextTail;
    if (tail === '') return text;
    if (text.startsWith(tail)) return text.slice(tail.length);
    return text.startsWith(tail.slice(1)) ? text.slice(tail.length - 1) : text;
  }

  private skips(id: number): boolean {
    return this.skipSpecialTokens && this.tokenizer.isSpecialToken(id);
  }

  /** After a cut, re-decodes the remaining context so that new text is measured against it. */
  private refresh(): void {
    if (!this.stale) return;
    this.text = this.tokenizer.decodeUnchecked(this.window);
    this.emitted = this.text.length;
    this.stale = false;
  }

  private update(): string {
    const text = this.tokenizer.decodeUnchecked(this.window);
    const stable = this.stableLength(text);
    let delta = '';
    if (stable > this.emitted) {
      delta = text.slice(this.emitted, stable);
      this.emitted = stable;
      delta = this.afterContextTail(delta);
      this.contextTail = '';
    }
    this.text = text;
    if (this.emitted === text.length) {
      const drop = this.window.length - CONTEXT_TOKENS;
      if (drop > 0) this.window.splice(0, drop);
      this.contextCount = this.window.length;
      this.stale = true;
    } else if (this.window.length - this.contextCount > MAX_TAIL) {
      this.split();
    }
    return delta;
  }

  /**
   * The window has grown without its text ever ending on a final character (e.g. a model
   * emitting stray UTF-8 lead bytes). Looks for a token boundary k inside the emitted text such
   * that decoding from `k - CONTEXT_TOKENS` reproduces the window's text after k, and cuts the
   * window there. Checked by decoding, so a cut never changes the text.
   */
  private split(): void {
    const { window, text } = this;
    const n = window.length;
    for (let k = n - 1; k > this.contextCount && k >= n - 4; k--) {
      const start = Math.max(0, k - CONTEXT_TOKENS);
      const head = this.tokenizer.decodeUnchecked(window.slice(start, k));
      const whole = this.tokenizer.decodeUnchecked(window.slice(start));
      if (!whole.startsWith(head)) continue;
      const tailLength = whole.length - head.length;
      const cut = text.length - tailLength;
      if (cut < 0 || cut > this.emitted || !text.endsWith(whole.slice(head.length))) continue;
      window.splice(0, start);
      this.contextCount = k - start;
      this.emitted = head.length + (this.emitted - cut);
      this.text = whole;
      return;
    }
  }

  /** Length of the prefix of `text` that no later id can change. */
  private stableLength(text: string): number {
    const n = text.length;
    if (endsInsideCharacter(text)) return n - 1;
    if (this.tokenizer.cleanUpTokenizationSpaces) {
      for (const hazard of CLEANUP_HAZARDS) if (text.endsWith(hazard)) return n - hazard.length;
    }
    return n;
  }
}

/** Whether `text` ends in U+FFFD: the bytes of a character whose end has not been decoded yet. */
function endsInsideCharacter(text: string): boolean {
  return text.length > 0 && text.charCodeAt(text.length - 1) === REPLACEMENT_CHARACTER;
}
