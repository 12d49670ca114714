import type { FileHandle } from 'node:fs/promises';
import { CheckpointError } from './errors.js';
import { ELEMENT_BYTES, openAndLocate, type TensorEntry, WeightsFile } from './weights-file.js';

/** Largest JSON header accepted (the format's own limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * One `.safetensors` file, opened for random access. The header is parsed and checked on
 * {@link SafetensorsFile.open}: every tensor's byte range must match its dtype and shape, lie in
 * the data section, not overlap another, and the file must be long enough for all of them (a
 * truncated download is reported as such). Tensors are then read one at a time, so memory holds
 * only the tensor being converted.
 */
export class SafetensorsFile extends WeightsFile {
  private constructor(
    path: string,
    handle: FileHandle,
    tensors: ReadonlyMap<string, TensorEntry>,
    /** The header's `__metadata__` strings. */
    readonly metadata: Readonly<Record<string, string>>,
  ) {
    super(path, handle, tensors);
  }

  /**
   * Opens and validates `path`.
   * @throws CheckpointError `unreadable`, `bad-header` or `truncated`, naming the file.
   */
  static async open(path: string): Promise<SafetensorsFile> {
    const { handle, located } = await openAndLocate(path, async (h) =>
      readHeader(h, path, (await h.stat()).size),
    );
    return new SafetensorsFile(path, handle, located.tensors, located.metadata);
  }
}

async function readHeader(
  handle: FileHandle,
  path: string,
  size: number,
): Promise<{ tensors: Map<string, TensorEntry>; metadata: Record<string, string> }> {
  if (size < 8) {
    throw new CheckpointError(
      'truncated',
      path,
      `file is ${size} bytes; a safetensors file starts with an 8-byte header length`,
    );
  }
  const prefix = new Uint8Array(8);
  await handle.read(prefix, 0, 8, 0);
  const headerLength = Number(new DataView(prefix.buffer).getBigUint64(0, true));
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
    throw new CheckpointError(
      'bad-header',
      path,
      `header length is ${headerLength} bytes; expected 2..${MAX_HEADER_BYTES} (is this a safetensors file?)`,
    );
  }
  if (8 + headerLength > size) {
    throw new CheckpointError(
      'truncated',
      path,
      `header needs ${8 + headerLength} bytes but the file has only ${size}`,
    );
  }
  const headerBytes = new Uint8Array(headerLength);
  await handle.read(headerBytes, 0, headerLength, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (cause) {
    throw new CheckpointError(
      'bad-header',
      path,
      `header is not valid UTF-8 JSON (${(cause as Error).message})`,
      {
        cause,
      },
    );
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError('bad-header', path, 'header must be a JSON object of tensors');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    tensors.set(name, parseEntry(name, value, path, dataStart));
  }
  checkLayout(tensors, path, dataStart, size);
  return { tensors, metadata };
}

function parseEntry(name: string, value: unknown, path: string, dataStart: number): TensorEntry {
  const bad = (what: string) => new CheckpointError('bad-header', path, `tensor "${name}": ${what}`);
  if (typeof value !== 'object' || value === null) throw bad('entry must be an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad(`dtype must be a string; found ${JSON.stringify(dtype)}`);
  const itemBytes = ELEMENT_BYTES[dtype];
  if (itemBytes === undefined) {
    throw new CheckpointError('unsupported-dtype', path, `tensor "${name}" has unknown dtype ${dtype}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`shape must be a list of non-negative integers; found ${JSON.stringify(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw bad(`data_offsets must be [begin, end] with 0 <= begin <= end; found ${JSON.stringify(offsets)}`);
  }
  const expected = shape.reduce((a: number, d: number) => a * d, 1) * itemBytes;
  if (offsets[1] - offsets[0] !== expected) {
    throw bad(
      `${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets ${JSON.stringify(offsets)} span ${
        offsets[1] - offsets[0]
      }`,
    );
  }
  return { name, dtype, shape, begin: dataStart + offsets[0], end: dataStart + offsets[1] };
}

function checkLayout(tensors: Map<string, TensorEntry>, path: string, dataStart: number, size: number): void {
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: TensorEntry | undefined;
  let last = dataStart;
  for (const entry of sorted) {
    if (previous && entry.begin < previous.end && entry.end > entry.begin) {
      throw new CheckpointError(
        'bad-header',
        path,
        `tensors "${previous.name}" and "${entry.name}" overlap (bytes ${previous.begin}..${previous.end} and ${entry.begin}..${entry.end})`,
      );
    }
    if (entry.end > entry.begin) previous = entry;
    last = Math.max(last, entry.end);
  }
  if (last > size) {
    const victim = sorted.find((e) => e.end > size)!;
    throw new CheckpointError(
      'truncated',
      path,
      `file is ${size} bytes but tensor "${victim.name}" ends at byte ${victim.end} (${last - size} bytes missing; was the download cut short?)`,
    );
  }
}
