import { type GenerationChunk, SpeculativeDecoder, type StopMatch } from '@treespec/core';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type HfTokenizer,
  loadTokenizer,
  StopStringMatcher,
  StringStopCriterion,
  TextStream,
} from '../src/index.js';
import { sentencePieceTokenizerJson, tinyFiles, tinyTokenizer } from './fixtures.js';
import { ArgmaxVerifier, ScriptedDrafter, ScriptedTarget } from './scripted-model.js';

const PROMPT = 'Q: What is six times seven?\nA:';
const ANSWER = ' The answer is 42.\nUser: thanks\nUser: bye';

let tokenizer: HfTokenizer;
beforeAll(async () => {
  tokenizer = await tinyTokenizer();
});

const pieces = (ids: ArrayLike<number>) => Array.from(ids, (id) => tokenizer.decode([id]));

/**
 * Generates `answer` after `prompt` through the real speculative loop (a scripted target and a
 * drafter whose chain lengths decide how many tokens each step commits), streaming text through
 * a TextStream with the given stop strings.
 */
async function generate(
  prompt: string,
  answer: string,
  stops: string[],
  stepLengths: number[],
  tok: HfTokenizer = tokenizer,
) {
  const tokenizer = tok;
  const promptIds = tokenizer.encode(prompt);
  const answerIds = tokenizer.encode(answer, { addSpecialTokens: false });
  const script = Int32Array.from([...promptIds, ...answerIds]);
  const decoder = new SpeculativeDecoder({
    target: new ScriptedTarget(script, tokenizer.vocabSize),
    drafter: new ScriptedDrafter(script, stepLengths),
    verifier: new ArgmaxVerifier(),
  });
  const stop = new StringStopCriterion(tokenizer, stops);
  const stream = decoder.stream(promptIds, { maxTokens: answerIds.length, stopCriteria: [stop] });
  const chunks: GenerationChunk[] = [];
  const tapped = {
    result: stream.result,
    async *[Symbol.asyncIterator]() {
      for await (const chunk of stream) {
        chunks.push(chunk);
        yield chunk;
      }
    },
  };
  const textStream = new TextStream(tokenizer, tapped, { context: promptIds, stop });
  const deltas: string[] = [];
  for await (const delta of textStream) deltas.push(delta);
  const result = await stream.result;
  const streamedTokens = chunks.flatMap((c) => Array.from(c.tokens));
  return { result, deltas, text: textStream.text, streamedTokens, stop, promptIds, answerIds };
}

describe('string stop sequences', () => {
  it('detects a stop sequence split across three tokens and trims it from the output exactly once', async () => {
    // "User:" is the tokens "U" | "ser" | ":"; it occurs twice, only the first counts.
    const answerIds = tokenizer.encode(ANSWER, { addSpecialTokens: false });
    expect(pieces(answerIds).slice(5, 9)).toEqual(['.\n', 'U', 'ser', ':']);
    for (const lengths of [[0], [1], [2], [3], [15], [1, 3, 0, 2], [4, 0]]) {
      const { result, text, streamedTokens, stop, promptIds } = await generate(
        PROMPT,
        ANSWER,
        ['User:'],
        lengths,
      );
      const p = promptIds.length;
      expect(result.finishReason, `steps ${lengths}`).toBe('stop');
      expect(text, `steps ${lengths}`).toBe(' The answer is 42.\n');
      expect(Array.from(result.tokens)).toEqual(Array.from(answerIds.subarray(0, 6)));
      expect(streamedTokens).toEqual(Array.from(result.tokens));
      expect(stop.lastMatch).toMatchObject({
        stop: 'User:',
        textLength: 19,
        trimChars: 0,
        end: p + 9,
        keep: p + 6,
      });
    }
  });

  it('keeps the token in which a stop string starts and cuts its text exactly', async () => {
    // "\nUser" starts inside ".\n" and spans three tokens: ".\n" | "U" | "ser".
    for (const lengths of [[0], [1], [2], [5], [2, 0, 1]]) {
      const { result, text, deltas, streamedTokens, stop } = await generate(
        PROMPT,
        ANSWER,
        ['\nUser'],
        lengths,
      );
      expect(result.finishReason).toBe('stop');
      expect(text, `steps ${lengths}`).toBe(' The answer is 42.');
      expect(deltas.join('')).toBe(' The answer is 42.');
      expect(tokenizer.decode(result.tokens)).toBe(' The answer is 42.\n');
      expect(streamedTokens).toEqual(Array.from(result.tokens));
      expect(stop.lastMatch).toMatchObject({ stop: '\nUser', textLength: 18, trimChars: 1 });
    }
  });

  it('reports the match as core expects, whether the three tokens arrive together or one per step', () => {
    const prompt = tokenizer.encode(PROMPT);
    const tokens = Int32Array.from([...prompt, ...tokenizer.encode(ANSWER, { addSpecialTokens: false })]);
    const p = prompt.length;
    const match: StopMatch = { end: 0, keep: 0 };

    const together = new StringStopCriterion(tokenizer, ['User:']);
    expect(together.check(tokens, p, p, p + 6, match)).toBe(false);
    expect(together.check(tokens, p, p + 6, p + 12, match)).toBe(true);
    expect(match).toEqual({ end: p + 9, keep: p + 6 });

    const oneByOne = new StringStopCriterion(tokenizer, ['User:']);
    const seen: boolean[] = [];
    for (let length = p + 1; length <= p + 9; length++)
      seen.push(oneByOne.check(tokens, p, length - 1, length, match));
    expect(seen).toEqual([false, false, false, false, false, false, false, false, true]);
    expect(match).toEqual({ end: p + 9, keep: p + 6 });
  });

  it('holds back exactly the tokens that could still become a stop string', () => {
    const prompt = tokenizer.encode(PROMPT);
    const tokens = Int32Array.from([...prompt, ...tokenizer.encode(ANSWER, { addSpecialTokens: false })]);
    const p = prompt.length;
    const stop = new StringStopCriterion(tokenizer, ['\nUser:', 'answer is 41']);
    const held = [5, 6, 7, 8].map((n) => stop.pending(tokens, p, p + n));
    // After " The answer is " the partial match "answer is " holds " answer", " is", " ";
    // "42" ends it. After ".\n" the "\n" could start "\nUser:": hold ".\n", then ".\n" "U",
    // then ".\n" "U" "ser".
    expect(pieces(tokens.subarray(p, p + 8))).toEqual([
      ' The',
      ' answer',
      ' is',
      ' ',
      '42',
      '.\n',
      'U',
      'ser',
    ]);
    expect(held).toEqual([0, 1, 2, 3]);
    expect(stop.pending(tokens, p, p + 4)).toBe(3);
  });

  it('finds a stop string inside one token and cuts that token at both ends', async () => {
    const { result, text, stop } = await generate(PROMPT, ANSWER, ['nswe'], [2]);
    expect(text).toBe(' The a');
    expect(pieces(result.tokens)).toEqual([' The', ' answer']);
    expect(stop.lastMatch).toMatchObject({ textLength: 6, trimChars: 5 });
  });

  it('picks the occurrence that ends first, and the longest of those ending together', async () => {
    const first = await generate(PROMPT, ANSWER, ['42.\nUser: thanks', 'is'], [3]);
    expect(first.text).toBe(' The answer ');
    const longest = await generate(PROMPT, ANSWER, ['ser', 'User'], [3]);
    expect(longest.text).toBe(' The answer is 42.\n');
    expect(longest.stop.lastMatch?.stop).toBe('User');
  });

  it('starts afresh in each generation it is used for', async () => {
    const prompt = tokenizer.encode(PROMPT);
    const answer = tokenizer.encode(ANSWER, { addSpecialTokens: false });
    const script = Int32Array.from([...prompt, ...answer]);
    const decoder = new SpeculativeDecoder({
      target: new ScriptedTarget(script, tokenizer.vocabSize),
      drafter: new ScriptedDrafter(script, [2]),
      verifier: new ArgmaxVerifier(),
    });
    const stop = new StringStopCriterion(tokenizer, ['User:']);
    const first = await decoder.generate(prompt, { maxTokens: answer.length, stopCriteria: [stop] });
    const second = await decoder.generate(prompt, { maxTokens: answer.length, stopCriteria: [stop] });
    expect(tokenizer.decode(first.tokens)).toBe(' The answer is 42.\n');
    expect(Array.from(second.tokens)).toEqual(Array.from(first.tokens));
    stop.reset();
    expect(stop.lastMatch).toBeNull();
  });

  it('leaves the text whole when no stop string occurs', async () => {
    const { result, text, streamedTokens } = await generate(PROMPT, ANSWER, ['Assistant:'], [1, 2]);
    expect(result.finishReason).toBe('length');
    expect(text).toBe(ANSWER);
    expect(streamedTokens).toEqual(Array.from(result.tokens));
  });

  const variants: [string, () => Promise<HfTokenizer>][] = [
    ['the tiny byte-level BPE tokenizer', tinyTokenizer],
    [
      'the tiny tokenizer with clean_up_tokenization_spaces',
      () => {
        const files = tinyFiles();
        return loadTokenizer({ ...files, config: { ...files.config, clean_up_tokenization_spaces: true } });
      },
    ],
    ['a SentencePiece tokenizer with byte fallback', () => loadTokenizer(sentencePieceTokenizerJson())],
  ];

  it.each(variants)(
    'cuts stop strings out of any text exactly, however the steps split it (property, %s)',
    async (_name, load) => {
      const tok = await load();
      const words = [
        ' the',
        ' 日本語',
        ' 🤖',
        ' café',
        '.\n',
        'User',
        ':',
        ' → ',
        '42',
        ' x',
        'é',
        '語',
        ' .',
        " n't",
        ' ,',
      ];
      const promptIds = tok.encode(PROMPT);
      const before = tok.decode(promptIds);
      const textAfterPrompt = (ids: ArrayLike<number>) =>
        tok.decode([...promptIds, ...Array.from(ids)]).slice(before.length);
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 14 }),
          fc.nat(),
          fc.nat(),
          fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 1, maxLength: 5 }),
          async (parts, startPick, lengthPick, lengths) => {
            const answer = parts.join('');
            // The generated text as the user sees it (clean-up may have rewritten the answer).
            const shown = textAfterPrompt(tok.encode(answer, { addSpecialTokens: false }));
            if (shown.length === 0) return;
            const start = startPick % shown.length;
            let length = 1 + (lengthPick % Math.min(8, shown.length - start));
            if (/[\uD800-\uDBFF]$/.test(shown.slice(start, start + length))) length++;
            const stopString = shown.slice(start, start + length);
            if (!stopString.isWellFormed()) return;
            const { result, text, streamedTokens } = await generate(
              PROMPT,
              answer,
              [stopString],
              lengths,
              tok,
            );
            const at = shown.indexOf(stopString);
            // Text that clean-up may still rewrite (a trailing " ", " n", …) is never final, so a
            // stop string ending inside it at the very end of the generation is not matched.
            const hazard = tok.cleanUpTokenizationSpaces
              ? (/ ?( n'?| '[vr]?| )$/.exec(shown)?.[0].length ?? 0)
              : 0;
            if (at + stopString.length > shown.length - hazard) {
              expect(result.finishReason).toBe('length');
              expect(text).toBe(shown);
              return;
            }
            const expected = shown.slice(0, at);
            expect(result.finishReason).toBe('stop');
            expect(text).toBe(expected);
            expect(streamedTokens).toEqual(Array.from(result.tokens));
            expect(textAfterPrompt(result.tokens).startsWith(expected)).toBe(true);
            // `keep` is minimal, except that a character still provisional at its token (a " "
            // clean-up may remove) makes it keep one more token, whose text is cut.
            const slack = tok.cleanUpTokenizationSpaces ? 2 : 1;
            if (result.tokens.length >= slack && expected.length > 0) {
              expect(textAfterPrompt(result.tokens.subarray(0, -slack)).startsWith(expected)).toBe(false);
            }
          },
        ),
        { numRuns: 300, seed: 0x5709 },
      );
    },
  );

  it('rejects empty stop strings by position', () => {
    expect(() => new StringStopCriterion(tokenizer, ['ok', ''])).toThrow(
      /option "stop\[1\]" must be a non-empty string/,
    );
    expect(() => new StopStringMatcher(['a', 3 as unknown as string])).toThrow(/stop\[1\]/);
  });
});

describe('the stop-string automaton', () => {
  it('finds every pattern across arbitrary feeding and reports the longest partial match', () => {
    const matcher = new StopStringMatcher(['abcab', 'bca', 'cc']);
    const feed = (text: string) => {
      let state = matcher.start;
      const hits: string[] = [];
      for (let i = 0; i < text.length; i++) {
        state = matcher.next(state, text.charCodeAt(i));
        const m = matcher.match(state);
        if (m >= 0) hits.push(`${matcher.patterns[m]}@${i + 1}`);
      }
      return { hits, depth: matcher.depth(state) };
    };
    expect(feed('xabcabx')).toEqual({ hits: ['bca@5', 'abcab@6'], depth: 0 });
    expect(feed('abca')).toEqual({ hits: ['bca@4'], depth: 4 });
    expect(feed('zzab')).toEqual({ hits: [], depth: 2 });
    expect(feed('acc')).toEqual({ hits: ['cc@3'], depth: 2 });
  });
});
