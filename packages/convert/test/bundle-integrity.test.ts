import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError, OptionError } from '@treespec/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, convertEagleHead } from '../src/index.js';
import { pathExists } from '../src/path-exists.js';
import { StagedFiles } from '../src/staged-files.js';
import { problemOf } from './helpers/checkpoint-error.js';
import { ONE_LAYER_LLAMA, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { writeHeadCheckpoint } from './helpers/random-head.js';
import { writeSizedTokenizer } from './helpers/sized-tokenizer.js';

let root: string;
let target: string;
let draft: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-integrity-'));
  target = join(root, 'target');
  draft = join(root, 'draft');
  await writeVariantCheckpoint(target, { ...ONE_LAYER_LLAMA, seed: 11 });
  await writeVariantCheckpoint(draft, { ...ONE_LAYER_LLAMA, seed: 12 });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Every file of a folder and its bytes. */
async function snapshot(folder: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(folder)).sort();
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(folder, n))] as const)));
}

async function bundle(name: string): Promise<string> {
  const out = join(root, name);
  await convertCausalLM({ checkpoint: target, out });
  return out;
}

describe('a conversion into an existing bundle', () => {
  it('refuses an id of a model of another role before anything takes its name, leaving every file as it was', async () => {
    const out = await bundle('other-role');
    const before = await snapshot(out);
    const error = await convertCausalLM({ checkpoint: draft, out, role: 'draft', id: 'target' }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(OptionError);
    expect((error as Error).message).toMatch(/"target" is its target; give this one another id/);
    expect(await snapshot(out)).toEqual(before);
  });

  it('keeps the target’s tokenizer side files when a draft LM sharing its tokenizer.json is added', async () => {
    const instruct = join(root, 'instruct');
    await writeVariantCheckpoint(instruct, { ...ONE_LAYER_LLAMA, seed: 11 });
    await writeFile(join(instruct, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{{ x }}' }));
    await writeFile(join(instruct, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 5] }));
    await writeFile(join(draft, 'generation_config.json'), JSON.stringify({ eos_token_id: 2 }));
    const out = join(root, 'side-files');
    await convertCausalLM({ checkpoint: instruct, out });
    const { model } = await convertCausalLM({ checkpoint: draft, out, role: 'draft' });
    expect(JSON.parse(await readFile(join(out, 'tokenizer_config.json'), 'utf8'))).toEqual({
      chat_template: '{{ x }}',
    });
    expect(JSON.parse(await readFile(join(out, 'generation_config.json'), 'utf8'))).toEqual({
      eos_token_id: [2, 5],
    });
    expect(model.tokenizer.files).toContain('generation_config.json');
    await rm(join(draft, 'generation_config.json'));
  });

  it('refuses a draft LM whose vocabulary is not the target’s, naming both', async () => {
    const out = await bundle('vocab');
    const wide = join(root, 'wide');
    await writeVariantCheckpoint(wide, { ...ONE_LAYER_LLAMA, vocab: ONE_LAYER_LLAMA.vocab + 16, seed: 13 });
    const before = await snapshot(out);
    const error = await problemOf(convertCausalLM({ checkpoint: wide, out, role: 'draft' }));
    expect(error.problem).toBe('mismatch');
    expect(error.message).toMatch(
      new RegExp(
        `vocab_size is ${ONE_LAYER_LLAMA.vocab + 16}, but the target "target" .* has ${ONE_LAYER_LLAMA.vocab}`,
      ),
    );
    expect(await snapshot(out)).toEqual(before);
  });

  it('refuses a tokenizer that defines ids past the model’s vocabulary', async () => {
    const small = join(root, 'small-vocab');
    await writeVariantCheckpoint(small, ONE_LAYER_LLAMA);
    await writeSizedTokenizer(small, ONE_LAYER_LLAMA.vocab + 10);
    const error = await problemOf(convertCausalLM({ checkpoint: small, out: join(root, 'small-out') }));
    expect(error.problem).toBe('mismatch');
    expect(error.message).toContain(
      `tokenizer.json: defines token id ${ONE_LAYER_LLAMA.vocab + 9}, but the model's vocabulary (config.json vocab_size) holds ${ONE_LAYER_LLAMA.vocab} ids`,
    );
    expect(await pathExists(join(root, 'small-out'))).toBe(false);
  });

  it('refuses --eagle3-layers for an EAGLE-2 head', async () => {
    const head = join(root, 'head');
    await writeHeadCheckpoint(head, { ...ONE_LAYER_LLAMA, seed: 11 }, 14);
    const out = await bundle('eagle2-layers');
    await expect(convertEagleHead({ checkpoint: head, target, out, eagle3Layers: [0] })).rejects.toThrow(
      /option "eagle3Layers" must be absent for an EAGLE-1\/2 head/,
    );
  });

  it('stops at a tensor once its signal aborts: a new folder goes, an existing bundle stays as it was', async () => {
    const controller = new AbortController();
    controller.abort();
    const fresh = join(root, 'aborted-new');
    const error = await convertCausalLM({ checkpoint: target, out: fresh, signal: controller.signal }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(AbortError);
    expect(await pathExists(fresh)).toBe(false);
    const out = await bundle('aborted-existing');
    const before = await snapshot(out);
    await expect(
      convertCausalLM({ checkpoint: draft, out, role: 'draft', signal: controller.signal }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(await snapshot(out)).toEqual(before);
  });
});

describe('StagedFiles', () => {
  it('puts every file back where one cannot take its name', async () => {
    const folder = join(root, 'staged');
    await mkdir(folder);
    await writeFile(join(folder, 'a'), 'old a');
    await writeFile(join(folder, 'b'), 'old b');
    const staged = new StagedFiles();
    await staged.write(join(folder, 'a'), 'new a');
    await staged.write(join(folder, 'c'), 'new c');
    staged.remove(join(folder, 'b'));
    // A staged file that is gone by the commit: its rename fails after the others'.
    staged.add(join(folder, 'gone.partial'), join(folder, 'd'));
    await expect(staged.commit()).rejects.toThrow(/ENOENT/);
    const left = await snapshot(folder);
    expect(Object.fromEntries([...left].map(([n, b]) => [n, b.toString()]))).toEqual({
      a: 'old a',
      b: 'old b',
    });
  });

  it('gives every file its name and drops what it set aside', async () => {
    const folder = join(root, 'staged-ok');
    await mkdir(folder);
    await writeFile(join(folder, 'a'), 'old a');
    await writeFile(join(folder, 'b'), 'old b');
    const staged = new StagedFiles();
    await staged.write(join(folder, 'a'), 'new a');
    staged.remove(join(folder, 'b'));
    await staged.commit();
    expect([...(await snapshot(folder)).keys()]).toEqual(['a']);
    expect(await readFile(join(folder, 'a'), 'utf8')).toBe('new a');
  });
});
