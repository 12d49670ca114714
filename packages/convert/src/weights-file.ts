import { type FileHandle, open } from 'node:fs/promises';
import { CheckpointError } from './errors.js';
import { decodeFloats, FLOAT_DTYPE_BYTES, type FloatDtype } from './float-conversion.js';

/** Where one tensor's bytes lie in a weights file (safetensors or a PyTorch archive). */
export interface TensorEntry {
  readonly name: string;
  /** The dtype in safetensors' spelling (`F32`, `BF16`, …), whether or not it is supported. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Byte range within the file. */
  readonly begin: number;
  readonly end: number;
}

/** Bytes per element of every dtype in safetensors' spelling. */
export const ELEMENT_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/**
 * A weights file opened for random access, its tensors indexed by name: each tensor is read on
 * its own, so memory holds only the tensor being converted.
 */
export abstract class WeightsFile {
  protected constructor(
    readonly path: string,
    protected readonly handle: FileHandle,
    /** Tensors by name, in file order. */
    readonly tensors: ReadonlyMap<string, TensorEntry>,
  ) {}

  /** The entry of `name`, or undefined. */
  get(name: string): TensorEntry | undefined {
    return this.tensors.get(name);
  }

  /** Reads the raw little-endian bytes of a tensor. */
  async readBytes(entry: TensorEntry): Promise<Uint8Array> {
    const length = entry.end - entry.begin;
    const bytes = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(bytes, done, length - done, entry.begin + done);
      if (bytesRead === 0) {
        throw new CheckpointError(
          'truncated',
          this.path,
          `tensor "${entry.name}" ends at byte ${entry.end} but the file ended at byte ${entry.begin + done}`,
        );
      }
      done += bytesRead;
    }
    return bytes;
  }

  /**
   * Reads a floating-point tensor as float32 (bf16 and fp16 widen exactly).
   * @throws CheckpointError `unsupported-dtype` for any other dtype.
   */
  async readFloat32(entry: TensorEntry): Promise<Float32Array> {
    const dtype = requireFloatDtype(entry, this.path);
    const out = new Float32Array((entry.end - entry.begin) / FLOAT_DTYPE_BYTES[dtype]);
    return decodeFloats(await this.readBytes(entry), dtype, out);
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}

/**
 * Opens `path` for reading and runs `locate` on it (finding its tensors), closing the file when
 * `locate` throws.
 * @throws CheckpointError `unreadable` when the file cannot be opened; whatever `locate` throws.
 */
export async function openAndLocate<T>(
  path: string,
  locate: (handle: FileHandle) => Promise<T>,
): Promise<{ handle: FileHandle; located: T }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new CheckpointError('unreadable', path, `cannot open: ${(cause as Error).message}`, { cause });
  }
  try {
    return { handle, located: await locate(handle) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Returns the entry's dtype when it is one the converter reads, else throws `unsupported-dtype`. */
export function requireFloatDtype(entry: TensorEntry, file: string): FloatDtype {
  if (entry.dtype === 'F32' || entry.dtype === 'F16' || entry.dtype === 'BF16') return entry.dtype;
  throw new CheckpointError(
    'unsupported-dtype',
    file,
    `tensor "${entry.name}" has dtype ${entry.dtype}; expected F32, F16 or BF16`,
  );
}
