import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, TokenizerError } from '@treespec/tokenizers';
import { afterAll, describe, expect, it } from 'vitest';
import { readTokenizerFiles } from '../src/index.js';

const TINY_DIR = new URL('../../model-tiny/checkpoints/treespec-tiny/', import.meta.url).pathname;
const HELLO = [1, 4211, 442, 1744, 3];
const CHATML =
  "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}";

async function rejection(promise: Promise<unknown>): Promise<TokenizerError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenizerError);
  return error as TokenizerError;
}

describe('readTokenizerFiles', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'treespec-node-tokenizer-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('reads a folder or a tokenizer.json path, with the config beside it, naming the files', async () => {
    for (const path of [TINY_DIR, join(TINY_DIR, 'tokenizer.json')]) {
      const tokenizer = await loadTokenizer(await readTokenizerFiles(path));
      expect(Array.from(tokenizer.encode('Hello world!'))).toEqual(HELLO);
      expect(tokenizer.file).toBe(join(TINY_DIR, 'tokenizer.json'));
      expect(tokenizer.eosTokenIds).toEqual([2]);
    }
  });

  it('reads chat_template.jinja and generation_config.json next to tokenizer.json', async () => {
    const dir = mkdtempSync(join(scratch, 'model-'));
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
      writeFileSync(join(dir, name), readFileSync(join(TINY_DIR, name)));
    }
    writeFileSync(join(dir, 'chat_template.jinja'), CHATML);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7] }));
    const tokenizer = await loadTokenizer(await readTokenizerFiles(dir));
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe(
      '<s><|im_start|>user\nHi<|im_end|>\n',
    );
    expect(tokenizer.eosTokenIds).toEqual([2, 7]);
  });

  it('names the path when the folder or its tokenizer.json is missing', async () => {
    const missing = join(scratch, 'no-such-model');
    const error = await rejection(readTokenizerFiles(missing));
    expect(error.code).toBe('TOKENIZER');
    expect(error.file).toBe(missing);
    expect(error.message).toContain('not found (ENOENT)');

    const empty = mkdtempSync(join(scratch, 'empty-'));
    const inner = await rejection(readTokenizerFiles(empty));
    expect(inner.file).toBe(join(empty, 'tokenizer.json'));
    expect(inner.message).toBe(
      `${join(empty, 'tokenizer.json')}: missing: expected a Hugging Face tokenizer.json in ${empty}`,
    );
  });

  it('names the file when tokenizer.json or the config is malformed', async () => {
    const dir = mkdtempSync(join(scratch, 'broken-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "BPE", ');
    const error = await rejection(loadTokenizer(await readTokenizerFiles(dir)));
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'tokenizer.json')}: malformed JSON: `));

    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(TINY_DIR, 'tokenizer.json')));
    writeFileSync(join(dir, 'tokenizer_config.json'), '[1, 2]');
    const config = await rejection(loadTokenizer(await readTokenizerFiles(dir)));
    expect(config.file).toBe(join(dir, 'tokenizer_config.json'));
    expect(config.message).toContain('expected a JSON object, found an array');
  });
});
