import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOKENIZER_FILE_NAMES as NAMES, OptionError } from '@treespec/core';
import { loadTokenizer } from '@treespec/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, parseDecoderConfig, TOKENIZER_FILES } from '../src/index.js';
import { StagedFiles } from '../src/staged-files.js';
import { stageTokenizerFiles } from '../src/tokenizer-files.js';

const TINY = fileURLToPath(new URL('../../model-tiny/checkpoints/treespec-tiny/', import.meta.url));
const TEMPLATE = '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-convert-tokenizer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stageTokenizerFiles', () => {
  it('copies every file of the one tokenizer table, tokenizer.json first', () => {
    expect(TOKENIZER_FILES).toEqual(Object.values(NAMES));
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
    const staged = await stageTokenizerFiles(checkpoint, out, config);
    expect(staged.info.files).toEqual(['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']);
    await expect(readFile(join(out, 'chat_template.jinja'))).rejects.toThrow(/ENOENT/);
    const files = new StagedFiles();
    await staged.stage(files);
    await files.commit();
    expect(await readFile(join(out, 'chat_template.jinja'), 'utf8')).toBe(TEMPLATE);
    expect((await readdir(out)).sort()).toEqual([
      'chat_template.jinja',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
  });

  it('writes a chat template it is given over the checkpoint’s, and the tokenizer then renders chats with it', async () => {
    const out = join(dir, 'given');
    await mkdir(out);
    const configFile = join(TINY, 'config.json');
    const config = parseDecoderConfig(JSON.parse(await readFile(configFile, 'utf8')), configFile);
    const given = '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}';
    const staged = await stageTokenizerFiles(join(dir, 'checkpoint'), out, config, given);
    expect(staged.info.files).toEqual(['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja']);
    const files = new StagedFiles();
    await staged.stage(files);
    await files.commit();
    const read = async (name: string) => readFile(join(out, name), 'utf8');
    const tokenizer = await loadTokenizer({
      tokenizer: await read(NAMES.tokenizer),
      config: await read(NAMES.config),
      chatTemplate: await read(NAMES.chatTemplate),
    });
    const ids = tokenizer.encodeChat([{ role: 'user', content: 'Hello there.' }]);
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('[user] Hello there.');
  });
});

describe('convertCausalLM with a chat template', () => {
  it('refuses a template that does not render, or one given for a draft model, before writing anything', async () => {
    const out = join(dir, 'refused');
    const broken = convertCausalLM({ checkpoint: TINY, out, chatTemplate: '{% for m in messages %}' });
    await expect(broken).rejects.toThrow(OptionError);
    await expect(broken).rejects.toThrow(/option "chatTemplate" must be a Jinja chat template that renders/);
    const draft = convertCausalLM({ checkpoint: TINY, out, role: 'draft', chatTemplate: '{{ 1 }}' });
    await expect(draft).rejects.toThrow(/option "role" must be "target" when a chatTemplate is given/);
    await expect(readFile(join(out, 'treespec.json'))).rejects.toThrow(/ENOENT/);
  });
});
