import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The tiny model's tokenizer.json: 8192 ids. */
const TINY_TOKENIZER = join(
  import.meta.dirname,
  '../../../model-tiny/checkpoints/treespec-tiny/tokenizer.json',
);
const TINY_VOCAB = 8192;

/**
 * Writes a tokenizer.json into `dir` whose ids all lie within `vocab` (a conversion refuses one
 * that does not): the tiny model's where it fits, else a word-level tokenizer of `vocab` words
 * (`<unk>`, `<s>`, `</s>`, then `w3`, `w4`, …), enough for tests that read token ids.
 */
export async function writeSizedTokenizer(dir: string, vocab: number): Promise<void> {
  const path = join(dir, 'tokenizer.json');
  if (vocab >= TINY_VOCAB) {
    await copyFile(TINY_TOKENIZER, path);
    return;
  }
  const special = ['<unk>', '<s>', '</s>'];
  const words = Array.from({ length: vocab }, (_, id) => special[id] ?? `w${id}`);
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special.slice(0, vocab).map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'WordLevel',
      vocab: Object.fromEntries(words.map((w, id) => [w, id])),
      unk_token: '<unk>',
    },
  };
  await writeFile(path, JSON.stringify(tokenizer));
}
