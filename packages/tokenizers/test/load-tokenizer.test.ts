import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer, loadTokenizer, TokenizerError } from '../src/index.js';
import { CHATML_TEMPLATE, readTinyJson, TINY_DIR, tinyFiles } from './fixtures.js';

const HELLO = [1, 4211, 442, 1744, 3];

async function expectHello(source: Parameters<typeof loadTokenizer>[0]) {
  const tokenizer = await loadTokenizer(source);
  expect(tokenizer).toBeInstanceOf(HfTokenizer);
  expect(Array.from(tokenizer.encode('Hello world!'))).toEqual(HELLO);
  expect(tokenizer.decode(HELLO)).toBe('Hello world!');
  return tokenizer;
}

async function rejection(promise: Promise<unknown>): Promise<TokenizerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenizerError);
    return error as TokenizerError;
  }
  throw new Error('expected a rejection');
}

describe('loading a tokenizer', () => {
  let scratch: string;
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'treespec-tokenizers-'));
    server = createServer((request, response) => {
      const name = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname).replace(
        /^\/tiny\//,
        '',
      );
      const file = join(TINY_DIR, name);
      if (!name || name.includes('..') || !existsSync(file)) {
        response.writeHead(404).end('not found');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await new Promise((resolve) => server.close(resolve));
  });

  it('loads from a folder, a tokenizer.json path and a file: URL, with the config beside it', async () => {
    const fromDir = await expectHello(TINY_DIR);
    expect(fromDir.file).toBe(join(TINY_DIR, 'tokenizer.json'));
    expect(fromDir.eosTokenIds).toEqual([2]);
    await expectHello(join(TINY_DIR, 'tokenizer.json'));
    await expectHello(pathToFileURL(TINY_DIR));
    await expectHello(pathToFileURL(join(TINY_DIR, 'tokenizer.json')).href);
  });

  it('loads over HTTP from a folder URL and from a tokenizer.json URL, treating absent companions as absent', async () => {
    const tokenizer = await expectHello(`${baseUrl}/tiny/`);
    expect(tokenizer.file).toBe(`${baseUrl}/tiny/tokenizer.json`);
    expect(tokenizer.bosTokenId).toBe(1);
    await expectHello(new URL(`${baseUrl}/tiny/tokenizer.json`));
    await expectHello(`${baseUrl}/tiny`);
  });

  it('loads from a Blob, a parsed tokenizer.json, and files given as objects, JSON text or Blobs', async () => {
    const text = readFileSync(join(TINY_DIR, 'tokenizer.json'), 'utf8');
    await expectHello(new Blob([text]));
    await expectHello(JSON.parse(text) as Record<string, unknown>);
    const tokenizer = await expectHello({
      tokenizer: text,
      config: new Blob([readFileSync(join(TINY_DIR, 'tokenizer_config.json'))]),
      generationConfig: { eos_token_id: [2, 0] },
    });
    expect(tokenizer.eosTokenIds).toEqual([2, 0]);
  });

  it('uses the bare tokenizer.json like Python tokenizers: no config means no BOS name and no clean-up', async () => {
    const tokenizer = await loadTokenizer(readTinyJson('tokenizer.json'));
    expect(tokenizer.bosTokenId).toBeNull();
    expect(tokenizer.eosTokenIds).toEqual([]);
    expect(tokenizer.cleanUpTokenizationSpaces).toBe(false);
    expect(tokenizer.decode(tokenizer.encode("I don't know , really ."))).toBe("I don't know , really .");
  });

  it('reads chat_template.jinja and generation_config.json next to tokenizer.json', async () => {
    const dir = mkdtempSync(join(scratch, 'model-'));
    for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
      writeFileSync(join(dir, name), readFileSync(join(TINY_DIR, name)));
    }
    writeFileSync(join(dir, 'chat_template.jinja'), CHATML_TEMPLATE);
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7] }));
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }])).toBe(
      '<s><|im_start|>user\nHi<|im_end|>\n',
    );
    expect(tokenizer.eosTokenIds).toEqual([2, 7]);
  });

  it('names the path when the folder or its tokenizer.json is missing', async () => {
    const missing = join(scratch, 'no-such-model');
    const error = await rejection(loadTokenizer(missing));
    expect(error.code).toBe('TOKENIZER');
    expect(error.file).toBe(missing);
    expect(error.message).toContain('not found (ENOENT)');

    const empty = mkdtempSync(join(scratch, 'empty-'));
    const inner = await rejection(loadTokenizer(empty));
    expect(inner.file).toBe(join(empty, 'tokenizer.json'));
    expect(inner.message).toBe(
      `${join(empty, 'tokenizer.json')}: missing: expected a Hugging Face tokenizer.json in ${empty}`,
    );
  });

  it('names the file when tokenizer.json or the config is malformed', async () => {
    const dir = mkdtempSync(join(scratch, 'broken-'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "BPE", ');
    const error = await rejection(loadTokenizer(dir));
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'tokenizer.json')}: malformed JSON: `));

    writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(TINY_DIR, 'tokenizer.json')));
    writeFileSync(join(dir, 'tokenizer_config.json'), '[1, 2]');
    const config = await rejection(loadTokenizer(dir));
    expect(config.file).toBe(join(dir, 'tokenizer_config.json'));
    expect(config.message).toContain('expected a JSON object, found an array');
  });

  it('rejects JSON that is not a tokenizer, naming what is missing', async () => {
    const noModel = await rejection(loadTokenizer({ tokenizer: { version: '1.0', added_tokens: [] } }));
    expect(noModel.message).toBe(
      'tokenizer.json (in memory): is not a Hugging Face tokenizer.json: expected a "model" object',
    );
    const badType = await rejection(loadTokenizer({ ...tinyFiles().tokenizer, model: { type: 'Mystery' } }));
    expect(badType.message).toContain(
      'is not a tokenizer @huggingface/tokenizers can load: Unknown TokenizerModel type: Mystery',
    );
    const badAdded = await rejection(
      loadTokenizer({ ...tinyFiles().tokenizer, added_tokens: [{ id: 'x' }] }),
    );
    expect(badAdded.message).toContain('added_tokens[0] must have an integer "id" and a string "content"');
  });

  it('names the URL and the HTTP status when tokenizer.json cannot be fetched', async () => {
    const error = await rejection(loadTokenizer(`${baseUrl}/elsewhere/tokenizer.json`));
    expect(error.file).toBe(`${baseUrl}/elsewhere/tokenizer.json`);
    expect(error.message).toContain('could not be fetched: HTTP 404');
  });

  it('rejects an id outside the vocabulary in decode, naming the id and its position', async () => {
    const tokenizer = await loadTokenizer(TINY_DIR);
    expect(() => tokenizer.decode([1, 2, 8192])).toThrow(
      `${join(TINY_DIR, 'tokenizer.json')}: token id 8192 at position 2 is not in the vocabulary: expected an integer id in [0, 8192) that the tokenizer defines`,
    );
    expect(() => tokenizer.decode([Number.NaN])).toThrow(/token id NaN at position 0/);
  });

  it('keeps node:* out of the browser bundle: file-system modules are imported only on the path branch', () => {
    const sources = readdirSync(new URL('../src/', import.meta.url)).filter((f) => f.endsWith('.ts'));
    for (const file of sources) {
      const text = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
      expect(text, file).not.toMatch(/^\s*import\s[^;]*from\s+['"]node:/m);
    }
    const bundle = new URL('../dist/index.js', import.meta.url);
    if (existsSync(bundle)) {
      expect(readFileSync(bundle, 'utf8')).not.toMatch(/^\s*import\s[^;]*from\s+['"]node:/m);
    }
  });
});
