import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CONTEXT_TOKENS, type HfTokenizer, loadTokenizer, TokenIdError } from '../src/index.js';
import { MULTIBYTE_TEXTS, sentencePieceTokenizerJson, tinyFiles, tinyTokenizer } from './fixtures.js';

/** Property runs per tokenizer and setting; seeded so a failure reproduces. */
const RUNS = 400;
const SEED = 0x7e5e;

/** Streams `ids` in chunks of the given sizes (cycled) and returns every delta plus the flush. */
function streamInChunks(
  tokenizer: HfTokenizer,
  ids: ArrayLike<number>,
  sizes: readonly number[],
  options: { skipSpecialTokens?: boolean; context?: ArrayLike<number> } = {},
): string[] {
  const decoder = tokenizer.streamingDecoder(options);
  const deltas: string[] = [];
  let at = 0;
  for (let k = 0; at < ids.length; k++) {
    const size = sizes.length === 0 ? ids.length : sizes[k % sizes.length]!;
    const end = Math.min(ids.length, at + size);
    deltas.push(decoder.push(Int32Array.from({ length: end - at }, (_, j) => ids[at + j]!)));
    at = end;
  }
  const heldBack = decoder.heldBackLength;
  deltas.push(decoder.flush());
  expect(deltas.at(-1)!.length, 'heldBackLength before the flush').toBe(heldBack);
  return deltas;
}

interface Variant {
  name: string;
  load: () => Promise<HfTokenizer>;
}

const variants: Variant[] = [
  { name: 'tiny byte-level BPE', load: tinyTokenizer },
  {
    name: 'tiny byte-level BPE with clean_up_tokenization_spaces',
    load: () => {
      const files = tinyFiles();
      return loadTokenizer({ ...files, config: { ...files.config, clean_up_tokenization_spaces: true } });
    },
  },
  { name: 'SentencePiece with byte fallback', load: () => loadTokenizer(sentencePieceTokenizerJson()) },
  {
    name: 'SentencePiece with clean_up_tokenization_spaces',
    load: () =>
      loadTokenizer({
        tokenizer: sentencePieceTokenizerJson(),
        config: { clean_up_tokenization_spaces: true },
      }),
  },
  {
    name: 'SentencePiece with a Metaspace decoder',
    load: () => loadTokenizer(sentencePieceTokenizerJson({ metaspace: true })),
  },
];

describe.each(variants)('streaming detokenization, $name', ({ load }) => {
  let tokenizer: HfTokenizer;
  let ids: fc.Arbitrary<number[]>;

  beforeAll(async () => {
    tokenizer = await load();
    // Ids of tokens that are single bytes or pieces of multi-byte text, so that sequences often
    // cut characters; plus special tokens and the whole vocabulary.
    const interesting = new Set<number>();
    for (const text of MULTIBYTE_TEXTS) for (const id of tokenizer.encode(text)) interesting.add(id);
    for (const text of [' .', " n't", " 's", ' ,', " ' ", ' ?', 'do', ' n', "'", 't']) {
      for (const id of tokenizer.encode(text, { addSpecialTokens: false })) interesting.add(id);
    }
    const picks = [...interesting];
    ids = fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...picks) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: tokenizer.vocabSize - 1 }) },
        { weight: 1, arbitrary: fc.constantFrom(0, 1, 2) },
      ),
      { maxLength: 60 },
    );
  });

  it('concatenates random ids streamed in random chunk sizes to decode(ids)', () => {
    fc.assert(
      fc.property(
        ids,
        fc.array(fc.integer({ min: 1, max: 7 }), { maxLength: 8 }),
        fc.boolean(),
        (seq, sizes, skip) => {
          const deltas = streamInChunks(tokenizer, seq, sizes, { skipSpecialTokens: skip });
          expect(deltas.join('')).toBe(tokenizer.decode(seq, { skipSpecialTokens: skip }));
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('never emits text that a later id could change: what a push returned is a prefix of the text of any continuation', () => {
    fc.assert(
      fc.property(
        ids,
        ids,
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 6 }),
        (seq, more, sizes) => {
          const decoder = tokenizer.streamingDecoder();
          let emitted = '';
          for (let at = 0, k = 0; at < seq.length; k++) {
            const size = sizes.length === 0 ? seq.length : sizes[k % sizes.length]!;
            const delta = decoder.push(seq.slice(at, at + size));
            expect(delta.isWellFormed()).toBe(true);
            emitted += delta;
            at += size;
          }
          expect(tokenizer.decode([...seq, ...more]).startsWith(emitted)).toBe(true);
        },
      ),
      { numRuns: RUNS, seed: SEED + 1 },
    );
  });

  it('with a context, streams the text that decode(context ++ ids) adds after the context', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MULTIBYTE_TEXTS, 'The history of the city', 'a b c', 'the ', 'a do n'),
        ids,
        fc.array(fc.integer({ min: 1, max: 6 }), { maxLength: 6 }),
        (prompt, seq, sizes) => {
          const context = tokenizer.encode(prompt);
          const joined = streamInChunks(tokenizer, seq, sizes, { context }).join('');
          const before = tokenizer.decode(context);
          const all = tokenizer.decode([...context, ...seq]);
          if (all.startsWith(before)) expect(joined).toBe(all.slice(before.length));
          else {
            // Clean-up took the space that ends the context (" " + "." is "."): the stream is
            // what follows the rest of the context.
            expect(tokenizer.cleanUpTokenizationSpaces).toBe(true);
            expect(all.length - joined.length).toBe(before.length - 1);
            expect(all.endsWith(joined)).toBe(true);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED + 2 },
    );
  });

  it.each(MULTIBYTE_TEXTS)('streams %s identically when split at every token position', (text) => {
    const seq = Array.from(tokenizer.encode(text));
    const expected = tokenizer.decode(seq);
    for (let p = 0; p <= seq.length; p++) {
      const decoder = tokenizer.streamingDecoder();
      const joined = decoder.push(seq.slice(0, p)) + decoder.push(seq.slice(p)) + decoder.flush();
      expect(joined, `split at ${p}`).toBe(expected);
    }
    expect(streamInChunks(tokenizer, seq, [1]).join('')).toBe(expected);
  });
});

describe('streaming detokenization of the tiny tokenizer', () => {
  it('emits a CJK character and an emoji only once their last byte arrives', async () => {
    const tokenizer = await tinyTokenizer();
    const seq = Array.from(tokenizer.encode(' 日🤖', { addSpecialTokens: false }));
    const decoder = tokenizer.streamingDecoder();
    const deltas = seq.map((id) => decoder.push([id]));
    deltas.push(decoder.flush());
    expect(deltas.filter((d) => d.length > 0)).toEqual([' ', '日', '🤖']);
    expect(deltas.join('')).toBe(' 日🤖');
  });

  it('holds back a trailing invalid byte until the flush, exactly as decode renders it', async () => {
    const tokenizer = await tinyTokenizer();
    const lead = tokenizer.tokenToId('â')!; // the byte 0xE2: a 3-byte lead with nothing after it
    const seq = [...tokenizer.encode('ok', { addSpecialTokens: false }), lead];
    const decoder = tokenizer.streamingDecoder();
    expect(decoder.push(seq)).toBe('ok');
    expect(decoder.heldBackLength).toBe(1);
    expect(decoder.flush()).toBe('\uFFFD');
    expect(tokenizer.decode(seq)).toBe('ok\uFFFD');
  });

  it('decodes a bounded window per push even when the text never ends on a whole character', async () => {
    const tokenizer = await tinyTokenizer();
    const lead = tokenizer.tokenToId('â')!;
    const seq = new Array<number>(300).fill(lead);
    const expected = tokenizer.decode(seq);
    expect(expected).toBe('\uFFFD'.repeat(300));
    const spy = vi.spyOn(tokenizer, 'decodeUnchecked');
    try {
      const decoder = tokenizer.streamingDecoder();
      let joined = '';
      for (let i = 0; i < seq.length; i += 3) joined += decoder.push(seq.slice(i, i + 3));
      joined += decoder.flush();
      expect(joined).toBe(expected);
      const widest = Math.max(...spy.mock.calls.map(([ids]) => ids.length));
      expect(widest).toBeLessThanOrEqual(16 + CONTEXT_TOKENS + 3 + 1);
    } finally {
      spy.mockRestore();
    }
  });

  it('keeps decoding work per push independent of the text length', async () => {
    const tokenizer = await tinyTokenizer();
    const seq = Array.from(tokenizer.encode('The quick brown fox jumps over the lazy dog. '.repeat(40)));
    const expected = tokenizer.decode(seq);
    const spy = vi.spyOn(tokenizer, 'decodeUnchecked');
    try {
      expect(streamInChunks(tokenizer, seq, [4]).join('')).toBe(expected);
      const widest = Math.max(...spy.mock.calls.map(([ids]) => ids.length));
      expect(widest).toBeLessThanOrEqual(CONTEXT_TOKENS + 4);
    } finally {
      spy.mockRestore();
    }
  });

  it('rejects an id outside the vocabulary by value and position, and stays usable', async () => {
    const tokenizer = await tinyTokenizer();
    const decoder = tokenizer.streamingDecoder();
    expect(decoder.push([4211])).toBe('Hel');
    const error = (() => {
      try {
        decoder.push([442, 8192]);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(TokenIdError);
    expect(error).toMatchObject({ code: 'TOKENIZER', id: 8192, position: 1 });
    expect((error as Error).message).toContain('token id 8192 at position 1');
    expect(() => decoder.push([-1])).toThrow(TokenIdError);
    expect(() => decoder.push([1.5])).toThrow(TokenIdError);
    expect(decoder.push([442]) + decoder.flush()).toBe('lo');
  });

  it('starts a new text after flush()', async () => {
    const tokenizer = await tinyTokenizer();
    const decoder = tokenizer.streamingDecoder();
    expect(decoder.push(tokenizer.encode('Hello'))).toBe('Hello');
    expect(decoder.flush()).toBe('');
    expect(decoder.push(tokenizer.encode(' again', { addSpecialTokens: false })) + decoder.flush()).toBe(
      ' again',
    );
  });
});

describe('streaming detokenization of a SentencePiece tokenizer', () => {
  it('keeps the leading space of the first streamed token when given the prompt as context', async () => {
    const tokenizer = await loadTokenizer(sentencePieceTokenizerJson());
    const prompt = tokenizer.encode('the');
    const generated = tokenizer.encode('the cat', { addSpecialTokens: false });
    expect(tokenizer.decode(generated)).toBe('the cat');
    expect(streamInChunks(tokenizer, generated, [1]).join('')).toBe('the cat');
    expect(streamInChunks(tokenizer, generated, [1], { context: prompt }).join('')).toBe(' the cat');
  });

  it('keeps the first space after a context that ends in a space clean-up may remove', async () => {
    const tokenizer = await loadTokenizer({
      tokenizer: sentencePieceTokenizerJson(),
      config: { clean_up_tokenization_spaces: true },
    });
    const prompt = tokenizer.encode('the ');
    expect(tokenizer.decode(prompt)).toBe('the ');
    const cat = tokenizer.encode('the cat', { addSpecialTokens: false });
    expect(streamInChunks(tokenizer, cat, [1], { context: prompt }).join('')).toBe(' the cat');
    expect(tokenizer.decode([...prompt, ...cat])).toBe('the  the cat');
    const dot = [tokenizer.tokenToId('.') as number];
    expect(tokenizer.decode([...prompt, ...dot])).toBe('the.');
    expect(streamInChunks(tokenizer, dot, [1], { context: prompt }).join('')).toBe('.');
    const decoder = tokenizer.streamingDecoder({ context: prompt });
    expect(decoder.heldBackLength).toBe(0);
    expect(decoder.flush()).toBe('');
  });

  it('joins byte-fallback tokens into the character they spell', async () => {
    const tokenizer = await loadTokenizer(sentencePieceTokenizerJson());
    const seq = Array.from(tokenizer.encode('a€b', { addSpecialTokens: false }));
    expect(seq.map((id) => tokenizer.idToToken(id))).toEqual(['▁a', '<0xE2>', '<0x82>', '<0xAC>', 'b']);
    const decoder = tokenizer.streamingDecoder();
    expect(seq.map((id) => decoder.pushId(id))).toEqual(['a', '', '', '€', 'b']);
  });
});
