import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, convertCausalLM, TorchArchiveFile } from '../src/index.js';
import { problemOf } from './helpers/checkpoint-error.js';
import { writeSizedTokenizer } from './helpers/sized-tokenizer.js';

/** Written by torch itself (make-fixtures.py beside them). */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'torch');

interface Expected {
  dtype: string;
  shape: number[];
  contiguous: boolean;
  values: number[];
}

/** A tensor's elements as numbers, from its raw little-endian bytes. */
function decodeInts(bytes: Uint8Array, dtype: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  const size = { I64: 8, I32: 4, BOOL: 1, F64: 8 }[dtype]!;
  for (let at = 0; at < bytes.length; at += size) {
    if (dtype === 'I64') out.push(Number(view.getBigInt64(at, true)));
    else if (dtype === 'I32') out.push(view.getInt32(at, true));
    else if (dtype === 'F64') out.push(view.getFloat64(at, true));
    else out.push(view.getUint8(at));
  }
  return out;
}

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-torch-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('TorchArchiveFile', () => {
  it('finds every tensor of a state dict torch saved, with its dtype, shape and values', async () => {
    const expected: Record<string, Expected> = JSON.parse(
      await readFile(join(FIXTURES, 'state-dict.json'), 'utf8'),
    );
    const file = await TorchArchiveFile.open(join(FIXTURES, 'state-dict.bin'));
    try {
      // Non-tensor values of the dict (an int step count) are not tensors.
      expect([...file.tensors.keys()].sort()).toEqual(Object.keys(expected).sort());
      for (const [name, want] of Object.entries(expected)) {
        const entry = file.get(name)!;
        expect(entry.dtype, name).toBe(want.dtype);
        expect(entry.shape, name).toEqual(want.shape);
        if (!want.contiguous) {
          expect((await problemOf(file.readBytes(entry))).problem).toBe('unsupported-layout');
          continue;
        }
        const values = ['F32', 'F16', 'BF16'].includes(want.dtype)
          ? [...(await file.readFloat32(entry))]
          : decodeInts(await file.readBytes(entry), want.dtype);
        expect(values, name).toEqual(want.values);
      }
    } finally {
      await file.close();
    }
  });

  it('reads a view at its offset into a storage it shares with another tensor', async () => {
    const file = await TorchArchiveFile.open(join(FIXTURES, 'state-dict.bin'));
    try {
      const big = file.get('big')!;
      const view = file.get('view')!;
      expect(view.begin - big.begin).toBe(6 * 4);
      expect([...(await file.readFloat32(view))]).toEqual(Array.from({ length: 12 }, (_, i) => 6 + i));
    } finally {
      await file.close();
    }
  });

  it('refuses a pickle that calls anything but the rebuilders of a state dict, before running it', async () => {
    const e = await problemOf(TorchArchiveFile.open(join(FIXTURES, 'runs-code.bin')));
    expect(e.problem).toBe('bad-header');
    expect(e.message).toMatch(/refuses the pickled global (posix|os|nt)\.system/);
  });

  it('says what to do with a checkpoint in the format before torch 1.6', async () => {
    const e = await problemOf(TorchArchiveFile.open(join(FIXTURES, 'legacy.bin')));
    expect(e.problem).toBe('bad-header');
    expect(e.message).toMatch(/before torch 1\.6.*torch\.save\(torch\.load\(path\)\)/);
  });

  it('reports a cut-short archive and a file that is not one', async () => {
    const bytes = await readFile(join(FIXTURES, 'state-dict.bin'));
    const cut = join(root, 'cut.bin');
    await writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    expect((await problemOf(TorchArchiveFile.open(cut))).problem).toBe('bad-header');
    const text = join(root, 'text.bin');
    await writeFile(text, 'not a checkpoint at all');
    expect((await problemOf(TorchArchiveFile.open(text))).message).toMatch(
      /is not a PyTorch checkpoint archive/,
    );
  });
});

describe('Checkpoint with pytorch_model.bin shards', () => {
  it('converts to the same model as the safetensors file of the same weights', async () => {
    const outs: string[] = [];
    for (const folder of ['llama-bin', 'llama-safetensors']) {
      const checkpoint = join(root, folder);
      await cp(join(FIXTURES, folder), checkpoint, { recursive: true });
      const config = JSON.parse(await readFile(join(checkpoint, 'config.json'), 'utf8')) as {
        vocab_size: number;
      };
      await writeSizedTokenizer(checkpoint, config.vocab_size);
      const out = join(root, `${folder}-onnx`);
      const result = await convertCausalLM({ checkpoint, out, id: 'llama' });
      outs.push(join(out, result.model.file));
    }
    const [fromBin, fromSafetensors] = outs as [string, string];
    expect(await readFile(`${fromBin}.data`)).toEqual(await readFile(`${fromSafetensors}.data`));
    expect(await readFile(fromBin)).toEqual(await readFile(fromSafetensors));
  });

  it('names the index when a shard lacks a tensor it places there', async () => {
    const dir = join(root, 'bad-index');
    await cp(join(FIXTURES, 'llama-bin'), dir, { recursive: true });
    const indexFile = join(dir, 'pytorch_model.bin.index.json');
    const index = JSON.parse(await readFile(indexFile, 'utf8'));
    index.weight_map['lm_head.weight'] = 'pytorch_model-00001-of-00002.bin';
    await writeFile(indexFile, JSON.stringify(index));
    const e = await problemOf(Checkpoint.open(dir));
    expect(e.message).toMatch(/pytorch_model\.bin\.index\.json places tensor "lm_head\.weight"/);
  });
});
