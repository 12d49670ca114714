import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ModelFormatError } from '@treespec/core';
import { CHECKSUMS_FILE, MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { afterAll, describe, expect, it } from 'vitest';
import { TINY_TOKEN_FREQUENCIES } from '../src/bundle.js';
import {
  PACKED_CHECKPOINTS,
  planarWeightsFile,
  preparePackedBundle,
  WEIGHTS_FOLDER,
} from '../src/packed-bundle.js';
import { packPlanarWeights, unpackPlanarWeights } from '../src/planar-weights.js';

// The packed weights are a build output (scripts/pack-weights.mjs): run `pnpm build` first.
const packageRoot = fileURLToPath(new URL('../', import.meta.url));
const checkpointWeights = (name: string) =>
  readFileSync(join(packageRoot, 'checkpoints', name, 'model.safetensors'));
const planarWeights = (name: string) =>
  readFileSync(join(packageRoot, WEIGHTS_FOLDER, planarWeightsFile(name)));
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A folder laid out like the published package: dist, weights, checkpoints without safetensors. */
function installedCopy(): string {
  const root = mkdtempSync(join(tmpdir(), 'model-tiny-installed-'));
  for (const part of [
    'dist',
    WEIGHTS_FOLDER,
    'package.json',
    'checkpoints/prompts-dev.jsonl',
    `checkpoints/${TINY_TOKEN_FREQUENCIES}`,
  ]) {
    cpSync(join(packageRoot, part), join(root, part), { recursive: true });
  }
  for (const name of Object.keys(PACKED_CHECKPOINTS)) {
    cpSync(join(packageRoot, 'checkpoints', name), join(root, 'checkpoints', name), {
      recursive: true,
      filter: (file) => !file.endsWith('.safetensors'),
    });
  }
  symlinkSync(join(packageRoot, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

/** A safetensors file holding one tensor. */
function safetensors(dtype: string, shape: number[], data: Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ w: { dtype, shape, data_offsets: [0, data.length] }, __metadata__: { format: 'pt' } }),
  );
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

describe('planar weights', () => {
  it('rebuild every shipped checkpoint byte for byte, the EAGLE head taking its embedding from the target', () => {
    const unpacked = new Map<string, Uint8Array>();
    for (const name of Object.keys(PACKED_CHECKPOINTS)) {
      const rebuilt = unpackPlanarWeights(planarWeights(name), (shared) => unpacked.get(shared)!);
      expect(sha(rebuilt), name).toBe(sha(checkpointWeights(name)));
      unpacked.set(name, rebuilt);
    }
    expect(planarWeights('treespec-tiny-eagle2').length).toBeLessThan(
      checkpointWeights('treespec-tiny-eagle2').length - 8192 * 384 * 2 + 4096,
    );
  });

  it('put the high bytes of every bf16 value first and the low bytes after them', () => {
    const data = Uint8Array.from([0x11, 0xa1, 0x22, 0xa2, 0x33, 0xa3, 0x44, 0xa4]);
    const planar = packPlanarWeights(safetensors('BF16', [4], data));
    expect([...planar.subarray(planar.length - 8)]).toEqual([0xa1, 0xa2, 0xa3, 0xa4, 0x11, 0x22, 0x33, 0x44]);
    expect(unpackPlanarWeights(planar, () => new Uint8Array())).toEqual(safetensors('BF16', [4], data));
  });

  it('reject weights whose rebuilt bytes differ from the sha256 recorded at packing', () => {
    const planar = packPlanarWeights(safetensors('BF16', [2], Uint8Array.from([1, 2, 3, 4])));
    planar[planar.length - 1] ^= 1;
    expect(() => unpackPlanarWeights(planar, () => new Uint8Array(), 'x.planes')).toThrow(
      /x\.planes: expected the rebuilt weights to have sha256 [0-9a-f]{64}, found [0-9a-f]{64}/,
    );
  });

  it('refuse to pack 4-byte tensors', () => {
    expect(() =>
      packPlanarWeights(safetensors('F32', [1], new Uint8Array(4)), {}, 'f32.safetensors'),
    ).toThrow(ModelFormatError);
  });
});

describe('the packed bundle of an installed package', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it('converts into the same target and EAGLE-2 heads, file for file, as the build', async () => {
    const root = installedCopy();
    roots.push(root);
    const out = join(root, 'cache', 'tiny');
    await preparePackedBundle(root, out);
    const built = join(packageRoot, 'models', 'tiny');
    for (const file of readdirSync(out).filter((f) => f !== MANIFEST_FILE && f !== CHECKSUMS_FILE)) {
      expect(sha(readFileSync(join(out, file))), file).toBe(sha(readFileSync(join(built, file))));
    }
    const builtSums = readFileSync(join(built, CHECKSUMS_FILE), 'utf8').split('\n');
    for (const line of readFileSync(join(out, CHECKSUMS_FILE), 'utf8').trim().split('\n'))
      expect(builtSums, line).toContain(line);
    const manifest = parseManifest(readFileSync(join(out, MANIFEST_FILE), 'utf8'));
    expect(manifest.models.map((m) => [m.id, m.weightFormat])).toEqual([
      ['target', 'fp32'],
      ['eagle-head-context', 'int8'],
      ['eagle-head', 'int8'],
      ['eagle-head-fp32', 'fp32'],
    ]);
  });

  it('is converted by the first tinyModelDirectory() into TREESPEC_CACHE_DIR and reused after', async () => {
    const root = installedCopy();
    roots.push(root);
    const cache = join(root, 'user-cache');
    const previous = process.env['TREESPEC_CACHE_DIR'];
    process.env['TREESPEC_CACHE_DIR'] = cache;
    try {
      const node = (await import(
        pathToFileURL(join(root, 'dist', 'node.js')).href
      )) as typeof import('../src/node.js');
      const version = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).version as string;
      const dir = node.tinyModelDirectory();
      expect(dir).toBe(`${join(cache, `model-tiny-${version}`, 'tiny')}/`);
      expect(readdirSync(dir)).toContain('target.onnx.data');
      const stamp = readFileSync(join(dir, MANIFEST_FILE));
      expect(node.tinyModelDirectory()).toBe(dir);
      expect(readFileSync(join(dir, MANIFEST_FILE))).toEqual(stamp);
      expect(readdirSync(join(cache, `model-tiny-${version}`))).toEqual(['tiny']);
    } finally {
      if (previous === undefined) delete process.env['TREESPEC_CACHE_DIR'];
      else process.env['TREESPEC_CACHE_DIR'] = previous;
    }
  });
});
