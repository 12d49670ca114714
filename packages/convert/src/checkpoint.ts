import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';
import { decodeFloats, FLOAT_DTYPE_BYTES } from './float-conversion.js';
import type { Matrix } from './matrix.js';
import { pathExists } from './path-exists.js';
import { SafetensorsFile } from './safetensors.js';
import { TorchArchiveFile } from './torch-archive.js';
import { requireFloatDtype, type TensorEntry, type WeightsFile } from './weights-file.js';

/** Name of the index that lists the shards of a sharded safetensors checkpoint. */
export const SHARD_INDEX_FILE = 'model.safetensors.index.json';

/**
 * The weights files a checkpoint directory may hold, in the order they are looked for: safetensors,
 * then PyTorch archives (`pytorch_model.bin`, as most published EAGLE heads ship), each single or
 * sharded with an index.
 */
const WEIGHT_FORMATS = [
  {
    single: 'model.safetensors',
    index: SHARD_INDEX_FILE,
    open: (path: string) => SafetensorsFile.open(path),
  },
  {
    single: 'pytorch_model.bin',
    index: 'pytorch_model.bin.index.json',
    open: (path: string) => TorchArchiveFile.open(path),
  },
] as const;

/**
 * The weights of a Hugging Face checkpoint directory: `model.safetensors`, the shards listed in
 * `model.safetensors.index.json`, or the same as PyTorch archives (`pytorch_model.bin`, or the
 * shards of `pytorch_model.bin.index.json`, read without running their pickles). Tensors are found
 * by name across shards and read lazily with their shapes checked against what the architecture
 * expects.
 */
export class Checkpoint {
  /** Names of the tensors looked up so far (read, or checked to be read). */
  private readonly looked = new Set<string>();

  private constructor(
    readonly directory: string,
    private readonly files: readonly WeightsFile[],
    private readonly owner: ReadonlyMap<string, WeightsFile>,
    /** The shard index, when the weights are sharded. */
    private readonly index: string | null,
  ) {}

  /**
   * Opens every weights file of `directory` and locates their tensors.
   * @throws CheckpointError when there is no weights file, a shard is missing or a header is bad.
   */
  static async open(directory: string): Promise<Checkpoint> {
    let format: (typeof WEIGHT_FORMATS)[number] | undefined;
    let shards: Map<string, string> | null = null;
    for (const candidate of WEIGHT_FORMATS) {
      const indexPath = join(directory, candidate.index);
      if (await pathExists(indexPath)) {
        shards = await readIndex(indexPath);
        format = candidate;
        break;
      }
      if (await pathExists(join(directory, candidate.single))) {
        format = candidate;
        break;
      }
    }
    if (!format) {
      throw new CheckpointError(
        'unreadable',
        directory,
        `no weights: expected ${WEIGHT_FORMATS.flatMap((f) => [f.single, f.index]).join(', ')} in the checkpoint directory`,
      );
    }
    const names = shards ? [...new Set(shards.values())] : [format.single];
    const files: WeightsFile[] = [];
    try {
      for (const name of names) files.push(await format.open(join(directory, name)));
    } catch (error) {
      await Promise.all(files.map((f) => f.close()));
      throw error;
    }
    const byName = new Map(names.map((n, i) => [n, files[i]!]));
    const owner = new Map<string, WeightsFile>();
    for (const file of files) for (const tensor of file.tensors.keys()) owner.set(tensor, file);
    if (shards) {
      for (const [tensor, shard] of shards) {
        if (owner.get(tensor) !== byName.get(shard)) {
          throw new CheckpointError(
            'missing-tensor',
            join(directory, shard),
            `${format.index} places tensor "${tensor}" in ${shard}, but that shard does not contain it`,
          );
        }
      }
    }
    return new Checkpoint(directory, files, owner, shards ? format.index : null);
  }

  /** Names of all tensors. */
  get tensorNames(): string[] {
    return [...this.owner.keys()];
  }

  /**
   * Tensors the conversion never looked up, in checkpoint order, less the buffers a checkpoint
   * may carry without weights in them ({@link derivedBuffer}): weights the config does not call
   * for, such as the q/k norms of a Qwen3 checkpoint whose config says Llama. `alsoUsed` names
   * tensors the model stands for without reading them (a tied `lm_head.weight`).
   */
  unusedTensorNames(alsoUsed: readonly string[] = []): string[] {
    return this.tensorNames.filter(
      (name) => !this.looked.has(name) && !derivedBuffer(name) && !alsoUsed.includes(name),
    );
  }

  /** Whether a tensor exists. */
  has(name: string): boolean {
    return this.owner.has(name);
  }

  /** The tensor's entry and file; throws `missing-tensor` when absent and `unsupported-dtype` unless it is floating-point. */
  entry(name: string, expectedShape: readonly number[]): { file: WeightsFile; entry: TensorEntry } {
    const found = this.shapedEntry(name, expectedShape);
    requireFloatDtype(found.entry, found.file.path);
    return found;
  }

  /**
   * An integer vector (I64 or I32) of `length` elements, read now, e.g. an EAGLE-3 head's `d2t`.
   * @throws CheckpointError `missing-tensor`, `shape-mismatch` or `unsupported-dtype`.
   */
  async integerVector(name: string, length: number): Promise<Float64Array> {
    const { file, entry } = this.shapedEntry(name, [length]);
    if (entry.dtype !== 'I64' && entry.dtype !== 'I32') {
      throw new CheckpointError(
        'unsupported-dtype',
        file.path,
        `tensor "${name}" has dtype ${entry.dtype}; expected I64 or I32`,
      );
    }
    const bytes = await file.readBytes(entry);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = entry.dtype === 'I64' ? Number(view.getBigInt64(i * 8, true)) : view.getInt32(i * 4, true);
    }
    return out;
  }

  private shapedEntry(
    name: string,
    expectedShape: readonly number[],
  ): { file: WeightsFile; entry: TensorEntry } {
    const file = this.owner.get(name);
    this.looked.add(name);
    if (!file) {
      throw new CheckpointError(
        'missing-tensor',
        this.index === null ? this.files[0]!.path : join(this.directory, this.index),
        `tensor "${name}" (shape [${expectedShape.join(', ')}]) is missing`,
      );
    }
    const entry = file.get(name)!;
    const shape = entry.shape;
    if (shape.length !== expectedShape.length || shape.some((d, i) => d !== expectedShape[i])) {
      throw new CheckpointError(
        'shape-mismatch',
        file.path,
        `tensor "${name}" has shape [${shape.join(', ')}]; the config implies [${expectedShape.join(', ')}]`,
      );
    }
    return { file, entry };
  }

  /** A 2-D weight [rows, cols], read lazily. */
  matrix(name: string, rows: number, cols: number): Matrix {
    const { file, entry } = this.entry(name, [rows, cols]);
    const dtype = requireFloatDtype(entry, file.path);
    const itemBytes = FLOAT_DTYPE_BYTES[dtype];
    return {
      label: name,
      rows,
      cols,
      async read(start, count) {
        const begin = entry.begin + start * cols * itemBytes;
        const part: TensorEntry = { ...entry, begin, end: begin + count * cols * itemBytes };
        return decodeFloats(await file.readBytes(part), dtype, new Float32Array(count * cols));
      },
    };
  }

  /** A 1-D weight (norm scale or bias) of `length` elements, read now. */
  async vector(name: string, length: number): Promise<Float32Array> {
    const { file, entry } = this.entry(name, [length]);
    return file.readFloat32(entry);
  }

  /** Fingerprint of a tensor: its dtype and the sha256 of its bytes as stored. */
  async fingerprint(
    name: string,
    shape: readonly number[],
  ): Promise<{ tensor: string; dtype: string; sha256: string }> {
    const { file, entry } = this.entry(name, shape);
    const hash = createHash('sha256');
    const block = 1 << 24;
    for (let at = entry.begin; at < entry.end; at += block) {
      hash.update(await file.readBytes({ ...entry, begin: at, end: Math.min(entry.end, at + block) }));
    }
    return { tensor: name, dtype: entry.dtype, sha256: hash.digest('hex') };
  }

  /** Closes all files. */
  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }
}

async function readIndex(path: string): Promise<Map<string, string>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new CheckpointError(
      'bad-header',
      path,
      `cannot read the shard index: ${(cause as Error).message}`,
      { cause },
    );
  }
  const map = (json as { weight_map?: unknown })?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new CheckpointError(
      'bad-header',
      path,
      'expected an object "weight_map" of tensor name to shard file',
    );
  }
  const shards = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
      throw new CheckpointError(
        'bad-header',
        path,
        `weight_map["${tensor}"] must be a shard file name; found ${JSON.stringify(shard)}`,
      );
    }
    shards.set(tensor, shard);
  }
  return shards;
}

/**
 * Buffers that some checkpoints save beside their weights and that a conversion derives instead:
 * RoPE's inverse frequencies (older Llama checkpoints) and an EAGLE-3 head's target-to-draft mask
 * (its draft-to-target map says the same).
 */
function derivedBuffer(name: string): boolean {
  return name.endsWith('rotary_emb.inv_freq') || name === 't2d';
}
