import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKENIZER_FILE_NAMES } from '@treespec/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDecoderConfig, TOKENIZER_FILES } from '../src/index.js';
import { copyTokenizerFiles } from '../src/tokenizer-files.js';

const TINY = fileURLToPath(new URL('../../model-tiny/checkpoints/treespec-tiny/', import.meta.url));
const TEMPLATE = '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-convert-tokenizer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('copyTokenizerFiles', () => {
  it('copies every file of the one tokenizer table, tokenizer.json first', () => {
    expect(TOKENIZER_FILES).toEqual(Object.values(TOKENIZER_FILE_NAMES));
    expect(TOKENIZER_FILES[0]).toBe('tokenizer.json');
  });

  it('keeps a chat template the checkpoint holds in chat_template.jinja, and lists it in the manifest', async () => {
    const checkpoint = join(dir, 'checkpoint');
    const out = join(dir, 'out');
    await mkdir(checkpoint);
    await mkdir(out);
    for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
      await copyFile(join(TINY, name), join(checkpoint, name));
    }
    await writeFile(join(checkpoint, 'chat_template.jinja'), TEMPLATE);
    const configFile = join(TINY, 'config.json');
    const config = parseDecoderConfig(JSON.parse(await readFile(configFile, 'utf8')), configFile);
    const info = await copyTokenizerFiles(checkpoint, out, config);
    expect(info.files).toEqual(['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']);
    expect(await readFile(join(out, 'chat_template.jinja'), 'utf8')).toBe(TEMPLATE);
  });
});
