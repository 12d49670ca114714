import { describe, expect, it } from 'vitest';
import { readTinyJson, tinyTokenizer } from './fixtures.js';

interface VectorCase {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
}

interface CheckCase {
  text: string;
  ids: number[];
  ids_no_special: number[];
  decoded: string;
  decoded_with_special: string;
}

const vectors = readTinyJson<{ cases: VectorCase[] }>('test-vectors.json').cases;
const checks = readTinyJson<{ cases: CheckCase[] }>('tokenizer-check.json').cases;

describe('the tiny model tokenizer against the Python reference', () => {
  it('has the vocabulary, BOS and EOS of its config', async () => {
    const tokenizer = await tinyTokenizer();
    expect(tokenizer.vocabSize).toBe(8192);
    expect(tokenizer.bosTokenId).toBe(1);
    expect(tokenizer.padTokenId).toBe(0);
    expect(tokenizer.eosTokenIds).toEqual([2]);
    expect([0, 1, 2].map((id) => tokenizer.isSpecialToken(id))).toEqual([true, true, true]);
    expect(tokenizer.isSpecialToken(3)).toBe(false);
  });

  it.each(vectors.map((c, i) => [i, c] as const))(
    'encodes test-vectors prompt %i to the recorded ids and decodes them back',
    async (_i, c) => {
      const tokenizer = await tinyTokenizer();
      expect(Array.from(tokenizer.encode(c.prompt))).toEqual(c.prompt_ids);
      expect(tokenizer.decode(c.prompt_ids)).toBe(c.prompt);
      expect(tokenizer.decode(c.prompt_ids, { skipSpecialTokens: false })).toBe(`<s>${c.prompt}`);
    },
  );

  it.each(vectors.map((c, i) => [i, c] as const))(
    'decodes the greedy continuation of test-vectors prompt %i to the recorded text',
    async (_i, c) => {
      const tokenizer = await tinyTokenizer();
      expect(tokenizer.decode(c.greedy_ids)).toBe(c.greedy_text);
    },
  );

  it.each(checks.map((c) => [JSON.stringify(c.text).slice(0, 40), c] as const))(
    'matches tokenizer-check.json on %s',
    async (_name, c) => {
      const tokenizer = await tinyTokenizer();
      expect(Array.from(tokenizer.encode(c.text))).toEqual(c.ids);
      expect(Array.from(tokenizer.encode(c.text, { addSpecialTokens: false }))).toEqual(c.ids_no_special);
      // The reference decoded `ids_no_special` and `ids` keeping special tokens.
      expect(tokenizer.decode(c.ids_no_special, { skipSpecialTokens: false })).toBe(c.decoded);
      expect(tokenizer.decode(c.ids, { skipSpecialTokens: false })).toBe(c.decoded_with_special);
      expect(tokenizer.decode(c.ids)).toBe(c.text.replace(/<s>|<\/s>|<pad>/g, ''));
    },
  );

  it('decodes an empty id list to "" (tokenizers.js itself throws there)', async () => {
    const tokenizer = await tinyTokenizer();
    expect(tokenizer.decode([])).toBe('');
    expect(tokenizer.decode(new Int32Array(0))).toBe('');
    expect(tokenizer.decode([1, 2, 0])).toBe('');
  });
});
