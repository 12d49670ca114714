import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, convertEagleHead, writeSafetensors } from '../src/index.js';
import { pathExists } from '../src/path-exists.js';
import { problemOf } from './helpers/checkpoint-error.js';
import {
  ONE_LAYER_LLAMA,
  type VariantSpec,
  variantConfig,
  variantTensors,
  writeVariantCheckpoint,
} from './helpers/random-checkpoint.js';
import { writeHeadCheckpoint } from './helpers/random-head.js';

const SPEC: VariantSpec = ONE_LAYER_LLAMA;

let root: string;
let good: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-errors-'));
  good = join(root, 'good');
  await writeVariantCheckpoint(good, SPEC);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A copy of the good checkpoint with a changed config and/or tensors. */
async function variantDir(
  name: string,
  config: (c: Record<string, unknown>) => Record<string, unknown>,
  tensors?: (t: ReturnType<typeof variantTensors>) => ReturnType<typeof variantTensors>,
): Promise<string> {
  const dir = join(root, name);
  await writeVariantCheckpoint(dir, SPEC);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config(variantConfig(SPEC))));
  if (tensors) {
    const list = tensors(variantTensors(SPEC)).map((t) => ({ ...t, dtype: 'F32' as const }));
    await writeSafetensors(join(dir, 'model.safetensors'), list);
  }
  return dir;
}

describe('conversion errors name the file and the problem', () => {
  it('rejects an unknown architecture, listing the supported ones', async () => {
    const dir = await variantDir('gpt2', (c) => ({ ...c, architectures: ['GPT2LMHeadModel'] }));
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'out-gpt2') }));
    expect(e.problem).toBe('unknown-architecture');
    expect(e.message).toBe(
      `${join(dir, 'config.json')}: architecture ["GPT2LMHeadModel"] is not supported; expected one of ` +
        'LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM',
    );
  });

  it('rejects a missing tensor and removes the folder it created, with the partial output', async () => {
    const dir = await variantDir(
      'missing',
      (c) => c,
      (t) => t.filter((x) => x.name !== 'model.layers.0.mlp.up_proj.weight'),
    );
    const out = join(root, 'out-missing');
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out }));
    expect(e.problem).toBe('missing-tensor');
    expect(e.message).toBe(
      `${join(dir, 'model.safetensors')}: tensor "model.layers.0.mlp.up_proj.weight" (shape [48, 32]) is missing`,
    );
    expect(await pathExists(out)).toBe(false);
  });

  it('removes the folders a failed conversion created, parents included, and keeps a folder that was there', async () => {
    const broken = await variantDir(
      'broken-new',
      (c) => c,
      (t) => t.filter((x) => x.name !== 'model.layers.0.self_attn.o_proj.weight'),
    );
    const created = join(root, 'new-parent');
    const nested = join(created, 'child', 'bundle');
    expect((await problemOf(convertCausalLM({ checkpoint: broken, out: nested }))).problem).toBe(
      'missing-tensor',
    );
    expect(await pathExists(created)).toBe(false);

    const kept = join(root, 'kept');
    await mkdir(kept);
    await writeFile(join(kept, 'notes.txt'), 'mine');
    expect((await problemOf(convertCausalLM({ checkpoint: broken, out: kept }))).problem).toBe(
      'missing-tensor',
    );
    expect(await readdir(kept)).toEqual(['notes.txt']);
  });

  it('refuses an output folder that is a file or cannot be made, leaving nothing behind', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'not a folder');
    await expect(convertCausalLM({ checkpoint: good, out: file })).rejects.toMatchObject({
      name: 'OptionError',
      option: 'out',
      message: `option "out" must be a folder to write the bundle into; it is a file; got "${file}"`,
    });
    const below = join(root, 'made', 'a-file');
    await mkdir(join(root, 'made'));
    await writeFile(below, 'not a folder');
    await expect(convertCausalLM({ checkpoint: good, out: join(below, 'x', 'y') })).rejects.toMatchObject({
      name: 'OptionError',
      option: 'out',
      message: expect.stringContaining(`making ${join(below, 'x')} failed (ENOTDIR)`),
    });
    expect(await readdir(join(root, 'made'))).toEqual(['a-file']);
  });

  it.skipIf(process.platform === 'win32')('refuses an output folder that is a dangling link', async () => {
    const dangling = join(root, 'dangling');
    await symlink(join(root, 'nowhere'), dangling);
    await expect(convertCausalLM({ checkpoint: good, out: dangling })).rejects.toMatchObject({
      name: 'OptionError',
      message: expect.stringContaining(`making ${dangling} failed (EEXIST)`),
    });
    expect(await pathExists(join(root, 'nowhere'))).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')(
    'refuses a folder under /proc at once (a recursive mkdir never returns there)',
    async () => {
      await expect(
        convertCausalLM({ checkpoint: good, out: '/proc/treespec-out/bundle' }),
      ).rejects.toMatchObject({
        name: 'OptionError',
        message: expect.stringContaining('making /proc/treespec-out failed (ENOENT)'),
      });
    },
    10_000,
  );

  it('refuses to write the bundle into the checkpoint folder it reads, leaving the checkpoint as it was', async () => {
    const before = (await readdir(good)).sort();
    await expect(convertCausalLM({ checkpoint: good, out: `${good}/` })).rejects.toMatchObject({
      name: 'OptionError',
      option: 'out',
      message: expect.stringContaining(`a folder other than the checkpoint ${good} the conversion reads`),
    });
    expect((await readdir(good)).sort()).toEqual(before);
  });

  it('leaves a bundle’s model as it was when converting it again fails', async () => {
    const out = join(root, 'out-again');
    await convertCausalLM({ checkpoint: good, out });
    const modelFiles = async () => (await readdir(out)).filter((f) => f.startsWith('target.onnx')).sort();
    const files = await modelFiles();
    const before = await Promise.all(files.map((f) => readFile(join(out, f))));
    const broken = await variantDir(
      'broken-again',
      (c) => c,
      (t) => t.filter((x) => x.name !== 'model.layers.0.mlp.down_proj.weight'),
    );
    expect((await problemOf(convertCausalLM({ checkpoint: broken, out }))).problem).toBe('missing-tensor');
    expect(await modelFiles()).toEqual(files);
    const after = await Promise.all(files.map((f) => readFile(join(out, f))));
    expect(after.every((bytes, i) => bytes.equals(before[i]!))).toBe(true);
  });

  it('rejects a tensor whose shape does not follow the config', async () => {
    const dir = await variantDir('shape', (c) => ({ ...c, intermediate_size: 40 }));
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'out-shape') }));
    expect(e.problem).toBe('shape-mismatch');
    expect(e.message).toContain(
      'tensor "model.layers.0.mlp.gate_proj.weight" has shape [48, 32]; the config implies [40, 32]',
    );
  });

  it('rejects rope scaling that cannot be baked into tables', async () => {
    const dir = await variantDir('dynamic', (c) => ({ ...c, rope_scaling: { type: 'dynamic', factor: 2 } }));
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'out-dynamic') }));
    expect(e.problem).toBe('unsupported-config');
    expect(e.message).toContain(
      'rope scaling type "dynamic" is not supported (supported: default, linear, llama3, yarn',
    );
  });

  it('lists the checkpoint tensors the config does not call for, less derived buffers', async () => {
    const extra = (name: string, n: number) => ({ name, shape: [n], data: new Float32Array(n).fill(1) });
    const dir = await variantDir(
      'unused',
      (c) => c,
      (t) => [
        ...t,
        extra('model.layers.0.self_attn.q_norm.weight', 8),
        extra('model.layers.0.self_attn.rotary_emb.inv_freq', 4),
      ],
    );
    const converted = await convertCausalLM({ checkpoint: dir, out: join(root, 'out-unused') });
    expect(converted.unusedTensors).toEqual(['model.layers.0.self_attn.q_norm.weight']);
    const plain = await convertCausalLM({ checkpoint: good, out: join(root, 'out-all-used') });
    expect(plain.unusedTensors).toEqual([]);
    // Tied embeddings: an lm_head stored beside them is what the embedding stands for.
    const tied = await variantDir('tied', (c) => ({ ...c, tie_word_embeddings: true }));
    const withHead = await convertCausalLM({ checkpoint: tied, out: join(root, 'out-tied') });
    expect(withHead.unusedTensors).toEqual([]);
  });

  it('names the config field that bounds --max-context: max_position_embeddings or a sliding window', async () => {
    const mistral = await variantDir('sliding', (c) => ({
      ...c,
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      max_position_embeddings: 256,
      sliding_window: 64,
    }));
    await expect(
      convertCausalLM({ checkpoint: mistral, out: join(root, 'o-sliding'), maxContext: 128 }),
    ).rejects.toThrow(
      `option "maxContext" must be an integer in [1, 64] (the config's sliding_window, which bounds the positions attention reaches); got 128`,
    );
    await expect(
      convertCausalLM({ checkpoint: good, out: join(root, 'o-positions'), maxContext: 100000 }),
    ).rejects.toThrow(
      /must be an integer in \[1, \d+\] \(the config's max_position_embeddings\); got 100000/,
    );
  });

  it('rejects a config that is not JSON and one with an impossible head count', async () => {
    const dir = await variantDir('badjson', (c) => c);
    await writeFile(join(dir, 'config.json'), '{"architectures": [');
    expect((await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'o1') }))).problem).toBe(
      'bad-config',
    );
    const heads = await variantDir('heads', (c) => ({ ...c, num_key_value_heads: 3 }));
    const e = await problemOf(convertCausalLM({ checkpoint: heads, out: join(root, 'o2') }));
    expect(e.message).toContain('num_attention_heads 4 is not a multiple of num_key_value_heads 3');
  });

  it('rejects a truncated weights file before writing anything', async () => {
    const dir = await variantDir('cut', (c) => c);
    const bytes = await readFile(join(dir, 'model.safetensors'));
    await writeFile(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'out-cut') }));
    expect(e.problem).toBe('truncated');
    expect(e.file).toBe(join(dir, 'model.safetensors'));
  });

  it('rejects a checkpoint without tokenizer.json', async () => {
    const dir = await variantDir('notok', (c) => c);
    await rm(join(dir, 'tokenizer.json'));
    const e = await problemOf(convertCausalLM({ checkpoint: dir, out: join(root, 'out-notok') }));
    expect(e.problem).toBe('missing-file');
    expect(e.file).toBe(join(dir, 'tokenizer.json'));
  });

  it('rejects an EAGLE head whose hidden size does not match the target, naming both configs', async () => {
    const head = join(root, 'head-wide');
    await writeHeadCheckpoint(head, { ...SPEC, hidden: 48 }, 12);
    const e = await problemOf(
      convertEagleHead({ checkpoint: head, target: good, out: join(root, 'out-head') }),
    );
    expect(e.problem).toBe('mismatch');
    expect(e.code).toBe('MODEL_MISMATCH');
    expect(e.message).toBe(
      `${join(head, 'config.json')}: the EAGLE head's hidden_size is 48 but the target's (${join(good, 'config.json')}) is 32; ` +
        'a head only works with the target it was trained for',
    );
  });

  it('rejects a head for another target than the folder’s, and a target that would orphan the folder’s head', async () => {
    const other = join(root, 'other-target');
    await writeVariantCheckpoint(other, { ...SPEC, seed: 12 });
    const head = join(root, 'fitting-head');
    await writeHeadCheckpoint(head, SPEC, 13);
    const headFirst = join(root, 'out-head-first');
    await convertEagleHead({ checkpoint: head, target: good, out: headFirst });
    const before = await readFile(join(headFirst, 'treespec.json'), 'utf8');
    const orphaning = await problemOf(convertCausalLM({ checkpoint: other, out: headFirst }));
    expect(orphaning.problem).toBe('mismatch');
    expect(orphaning.message).toMatch(/holds the head "eagle-head", converted for another target/);
    expect(await readFile(join(headFirst, 'treespec.json'), 'utf8')).toBe(before);

    const targetFirst = join(root, 'out-target-first');
    await convertCausalLM({ checkpoint: other, out: targetFirst });
    const foreign = await problemOf(convertEagleHead({ checkpoint: head, target: good, out: targetFirst }));
    expect(foreign.problem).toBe('mismatch');
    expect(foreign.message).toMatch(/the target "target" in .* was converted from another checkpoint/);
    expect((await readdir(targetFirst)).filter((f) => f.startsWith('eagle-head'))).toEqual([]);
  });

  it('rejects a second model whose tokenizer differs from the one already in the directory', async () => {
    const out = join(root, 'out-shared');
    await convertCausalLM({ checkpoint: good, out });
    const other = await variantDir('other-tokenizer', (c) => c);
    await writeFile(join(other, 'tokenizer.json'), '{"model": {}}');
    await mkdir(out, { recursive: true });
    const e = await problemOf(convertCausalLM({ checkpoint: other, out, role: 'draft' }));
    expect(e.problem).toBe('mismatch');
    expect(e.message).toContain('models in one directory must share a tokenizer');
  });
});
