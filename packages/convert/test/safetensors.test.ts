import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Checkpoint,
  decodeFloats,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfToFloat,
  SafetensorsFile,
  writeSafetensors,
} from '../src/index.js';
import { problemOf } from './helpers/checkpoint-error.js';
import { writeShards } from './helpers/random-checkpoint.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a raw file: 8-byte little-endian header length, header JSON, then `body`. */
async function rawFile(name: string, header: unknown, body: Uint8Array): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
  const path = join(dir, name);
  await writeFile(path, Buffer.concat([prefix, json, body]));
  return path;
}

describe('float conversion', () => {
  it('decodes fp16 exactly, subnormals, infinities and NaN included', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x03ff)).toBe(1023 * 2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(halfToFloat(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(halfToFloat(0x7e00)).toBeNaN();
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });

  it('round-trips every finite fp16 and bf16 bit pattern through float32', () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(bits.buffer);
    const half = decodeFloats(bytes, 'F16', new Float32Array(65536));
    const brain = decodeFloats(bytes, 'BF16', new Float32Array(65536));
    // One assertion over all patterns: 131072 separate expect() calls took seconds.
    const wrong: string[] = [];
    for (let b = 0; b < 65536; b++) {
      if (Number.isFinite(half[b]!) && floatToHalfBits(half[b]!) !== b) wrong.push(`F16 ${b}`);
      if (Number.isFinite(brain[b]!) && floatToBfloat16Bits(brain[b]!) !== b) wrong.push(`BF16 ${b}`);
    }
    expect(wrong).toEqual([]);
    expect(brain[0x3f80]).toBe(1);
    expect(brain[0xc2f7]).toBe(-123.5);
  });

  it('rounds to nearest even when narrowing', () => {
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });
});

describe('SafetensorsFile', () => {
  it('reads fp32, fp16 and bf16 tensors as the float32 values they hold', async () => {
    const values = Float32Array.from([0, 1, -2.5, 0.1, 65504, -1e-3]);
    const path = join(dir, 'three.safetensors');
    await writeSafetensors(path, [
      { name: 'a', shape: [2, 3], dtype: 'F32', data: values },
      { name: 'b', shape: [6], dtype: 'F16', data: values },
      { name: 'c', shape: [3, 2], dtype: 'BF16', data: values },
    ]);
    const file = await SafetensorsFile.open(path);
    expect([...file.tensors.keys()]).toEqual(['a', 'b', 'c']);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(await file.readFloat32(file.get('a')!)).toEqual(values);
    expect(Array.from(await file.readFloat32(file.get('b')!))).toEqual([
      0, 1, -2.5, 0.0999755859375, 65504, -0.0010004043579101562,
    ]);
    expect(Array.from(await file.readFloat32(file.get('c')!))).toEqual([
      0, 1, -2.5, 0.10009765625, 65536, -0.00099945068359375,
    ]);
    await file.close();
  });

  it('reports a file cut short, naming the tensor and the missing bytes', async () => {
    const path = join(dir, 'cut.safetensors');
    await writeSafetensors(path, [
      { name: 'w', shape: [4, 4], dtype: 'F32', data: new Float32Array(16) },
      { name: 'x', shape: [8], dtype: 'BF16', data: new Float32Array(8) },
    ]);
    const size = (await readFile(path)).length;
    await truncate(path, size - 5);
    const e = await problemOf(SafetensorsFile.open(path));
    expect(e.problem).toBe('truncated');
    expect(e.file).toBe(path);
    expect(e.message).toMatch(
      /tensor "x" ends at byte \d+ \(5 bytes missing; was the download cut short\?\)/,
    );
    await truncate(path, 20);
    expect((await problemOf(SafetensorsFile.open(path))).message).toMatch(
      /header needs \d+ bytes but the file has only 20/,
    );
  });

  it.each([
    [
      'a header length beyond the limit',
      () => rawFile('huge.safetensors', {}, new Uint8Array(0)),
      'bad-header',
    ],
    [
      'a header that is not JSON',
      async () => {
        const path = join(dir, 'notjson.safetensors');
        await writeFile(path, Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{abc}')]));
        return path;
      },
      'bad-header',
    ],
    [
      'byte ranges that do not fit the shape',
      () =>
        rawFile(
          'size.safetensors',
          { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } },
          new Uint8Array(12),
        ),
      'bad-header',
    ],
    [
      'overlapping tensors',
      () =>
        rawFile(
          'overlap.safetensors',
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
          },
          new Uint8Array(12),
        ),
      'bad-header',
    ],
    [
      'an unknown dtype',
      () =>
        rawFile(
          'dtype.safetensors',
          { w: { dtype: 'F4', shape: [2], data_offsets: [0, 1] } },
          new Uint8Array(1),
        ),
      'unsupported-dtype',
    ],
  ])('rejects %s as a typed error naming the file', async (_name, make, problem) => {
    const path = await make();
    if (path.endsWith('huge.safetensors')) {
      const bytes = await readFile(path);
      new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(0, 10n ** 12n, true);
      await writeFile(path, bytes);
    }
    const e = await problemOf(SafetensorsFile.open(path));
    expect(e.problem).toBe(problem);
    expect(e.message.startsWith(`${path}: `)).toBe(true);
  });

  it('refuses to read an integer tensor as weights', async () => {
    const path = await rawFile(
      'ints.safetensors',
      { w: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } },
      new Uint8Array(8),
    );
    const file = await SafetensorsFile.open(path);
    const e = await problemOf(file.readFloat32(file.get('w')!));
    expect(e.problem).toBe('unsupported-dtype');
    expect(e.message).toBe(`${path}: tensor "w" has dtype I32; expected F32, F16 or BF16`);
    await file.close();
  });
});

describe('Checkpoint', () => {
  const tensors = Array.from({ length: 5 }, (_, i) => ({
    name: `t${i}`,
    shape: [2, 3],
    dtype: 'BF16' as const,
    data: Float32Array.from({ length: 6 }, (_, j) => i * 10 + j),
  }));

  it('finds tensors across shards listed in model.safetensors.index.json and reads row blocks', async () => {
    const ckpt = join(dir, 'sharded');
    await import('node:fs/promises').then((fs) => fs.mkdir(ckpt));
    await writeShards(ckpt, tensors, 3);
    const c = await Checkpoint.open(ckpt);
    expect(c.tensorNames.sort()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    expect(Array.from(await c.matrix('t3', 2, 3).read(1, 1))).toEqual([33, 34, 35]);
    expect((await problemOf(c.vector('t0', 6))).problem).toBe('shape-mismatch');
    const missing = await problemOf(Promise.resolve().then(() => c.matrix('t9', 2, 3)));
    expect(missing.problem).toBe('missing-tensor');
    expect(missing.message).toBe(
      `${join(ckpt, 'model.safetensors.index.json')}: tensor "t9" (shape [2, 3]) is missing`,
    );
    const shape = await problemOf(Promise.resolve().then(() => c.matrix('t1', 3, 2)));
    expect(shape.message).toContain('tensor "t1" has shape [2, 3]; the config implies [3, 2]');
    await c.close();
  });

  it('names a shard that the index lists but that is not there', async () => {
    const ckpt = join(dir, 'lost-shard');
    await import('node:fs/promises').then((fs) => fs.mkdir(ckpt));
    await writeShards(ckpt, tensors, 2);
    await rm(join(ckpt, 'model-00002-of-00002.safetensors'));
    const e = await problemOf(Checkpoint.open(ckpt));
    expect(e.problem).toBe('unreadable');
    expect(e.file).toBe(join(ckpt, 'model-00002-of-00002.safetensors'));
  });

  it('says what it expected in a directory without weights', async () => {
    const e = await problemOf(Checkpoint.open(dir));
    expect(e.message).toBe(
      `${dir}: no weights: expected model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json in the checkpoint directory`,
    );
  });
});
