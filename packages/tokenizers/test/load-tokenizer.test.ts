import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AbortError } from '@treespec/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer, loadTokenizer, TokenizerError } from '../src/index.js';
import { readTinyJson, TINY_DIR, tinyFileBlobs, tinyFiles } from './fixtures.js';

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
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
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
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads no file system: a path or a file: URL is refused with a pointer to @treespec/node', async () => {
    for (const source of [TINY_DIR, pathToFileURL(TINY_DIR), pathToFileURL(TINY_DIR).href]) {
      const error = await rejection(loadTokenizer(source));
      expect(error.file).toBe(String(source));
      expect(error.message).toContain(
        'is not an http(s) URL; to read tokenizer files from disk, pass `readTokenizerFiles(path)`',
      );
    }
  });

  it('names each file given as a File by its name', async () => {
    const tokenizer = await expectHello(tinyFileBlobs());
    expect(tokenizer.file).toBe(join(TINY_DIR, 'tokenizer.json'));
    expect(tokenizer.eosTokenIds).toEqual([2]);
  });

  it('loads over HTTP from a folder URL and from a tokenizer.json URL, treating absent companions as absent', async () => {
    const tokenizer = await expectHello(`${baseUrl}/tiny/`);
    expect(tokenizer.file).toBe(`${baseUrl}/tiny/tokenizer.json`);
    expect(tokenizer.bosTokenId).toBe(1);
    await expectHello(new URL(`${baseUrl}/tiny/tokenizer.json`));
    await expectHello(`${baseUrl}/tiny`);
    // A folder URL's query is every file's, as on the Hub (`…/resolve/main?download=true`).
    const queried = await expectHello(`${baseUrl}/tiny?download=true`);
    expect(queried.file).toBe(`${baseUrl}/tiny/tokenizer.json?download=true`);
  });

  it("rejects with core's AbortError when its signal aborts a fetch", async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await loadTokenizer(`${baseUrl}/tiny/`, { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AbortError);
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
    const tokenizer = await loadTokenizer(tinyFileBlobs());
    expect(() => tokenizer.decode([1, 2, 8192])).toThrow(
      `${join(TINY_DIR, 'tokenizer.json')}: token id 8192 at position 2 is not in the vocabulary: expected an integer id in [0, 8192) that the tokenizer defines`,
    );
    expect(() => tokenizer.decode([Number.NaN])).toThrow(/token id NaN at position 0/);
  });

  it('never imports node:*, statically or dynamically, so browser bundles stay clean', () => {
    const sources = readdirSync(new URL('../src/', import.meta.url)).filter((f) => f.endsWith('.ts'));
    for (const file of sources) {
      const text = readFileSync(new URL(`../src/${file}`, import.meta.url), 'utf8');
      expect(text, file).not.toMatch(/['"]node:/);
    }
    const bundle = new URL('../dist/index.js', import.meta.url);
    if (existsSync(bundle)) expect(readFileSync(bundle, 'utf8')).not.toMatch(/['"]node:/);
  });
});
