import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { AbortError } from '@treespec/core';

/** Where a tensor's bytes went in an external data file. */
export interface ExternalLocation {
  /** File name relative to the .onnx file. */
  readonly location: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * Appends tensor bytes to one ONNX external data file, each tensor starting at a multiple of
 * `alignment` bytes (4096 by default, so ONNX Runtime can memory-map them). Offsets are plain
 * numbers, exact up to 2^53 bytes, so files far above 2 GB are fine.
 */
export class ExternalDataWriter {
  private offset = 0;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    private readonly alignment: number,
    private readonly location: string,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * Creates (or truncates) the file at `path`. Tensors name `location` as their file (default:
   * the file's own name), for a file written under a temporary name and renamed when complete.
   * Once `signal` aborts, the next tensor's write throws core's `AbortError`.
   */
  static async create(
    path: string,
    alignment = 4096,
    location = basename(path),
    signal?: AbortSignal,
  ): Promise<ExternalDataWriter> {
    return new ExternalDataWriter(await open(path, 'w'), path, alignment, location, signal);
  }

  /** Bytes written so far, padding included. */
  get size(): number {
    return this.offset;
  }

  /** Writes one tensor given as a sequence of byte chunks and returns where it lies. */
  async write(chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<ExternalLocation> {
    if (this.signal?.aborted) throw new AbortError(`writing ${this.path} was aborted`);
    const start = Math.ceil(this.offset / this.alignment) * this.alignment;
    let at = start;
    for await (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done, at + done);
        done += bytesWritten;
      }
      at += chunk.length;
    }
    this.offset = at;
    return { location: this.location, offset: start, length: at - start };
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    await this.handle.close();
  }
}
