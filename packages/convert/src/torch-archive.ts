import type { FileHandle } from 'node:fs/promises';
import yauzl from 'yauzl';
import { CheckpointError } from './errors.js';
import { readTorchStateDict, type TorchTensorRecord } from './torch-pickle.js';
import { ELEMENT_BYTES, openAndLocate, type TensorEntry, WeightsFile } from './weights-file.js';

/** The first bytes of a pickle of protocol 2 or more: a file torch wrote before its zip format (1.6). */
const LEGACY_MAGIC = 0x80;

/**
 * A PyTorch checkpoint (`pytorch_model.bin`, `torch.save` of a state dict since torch 1.6): a zip
 * archive of a pickle (`<name>/data.pkl`) that describes each tensor as a view of a storage, and of
 * each storage's bytes, stored uncompressed (`<name>/data/<key>`). The pickle is read without
 * running anything ({@link readTorchStateDict}), and each tensor's bytes are located in place, so
 * a tensor is read from the file like a safetensors one, with no copy of the archive in memory.
 * Zip64 archives (shards over 4 GB) are read. Tensors that are not contiguous in their storage are
 * listed, but reading one throws `unsupported-layout`.
 */
export class TorchArchiveFile extends WeightsFile {
  private constructor(
    path: string,
    handle: FileHandle,
    tensors: ReadonlyMap<string, TensorEntry>,
    /** Names of the tensors whose elements are not contiguous in their storage. */
    private readonly strided: ReadonlySet<string>,
  ) {
    super(path, handle, tensors);
  }

  /**
   * Opens `path` and locates every tensor.
   * @throws CheckpointError `unreadable`, `bad-header` (not a torch archive, a legacy one, a
   *   compressed storage, a pickle that is not a state dict) or `truncated`.
   */
  static async open(path: string): Promise<TorchArchiveFile> {
    const { handle, located } = await openAndLocate(path, (h) => locateTensors(h, path));
    return new TorchArchiveFile(path, handle, located.tensors, located.strided);
  }

  override async readBytes(entry: TensorEntry): Promise<Uint8Array> {
    if (this.strided.has(entry.name)) {
      throw new CheckpointError(
        'unsupported-layout',
        this.path,
        `tensor "${entry.name}" is a strided view of its storage (saved without .contiguous()); expected a contiguous tensor`,
      );
    }
    return super.readBytes(entry);
  }
}

async function locateTensors(
  handle: FileHandle,
  path: string,
): Promise<{ tensors: Map<string, TensorEntry>; strided: Set<string> }> {
  const first = new Uint8Array(2);
  await handle.read(first, 0, 2, 0);
  if (first[0] === LEGACY_MAGIC && first[1]! >= 2) {
    throw new CheckpointError(
      'bad-header',
      path,
      'is a PyTorch checkpoint in the format before torch 1.6 (one pickle, not a zip archive); re-save it with torch.save(torch.load(path)) or as model.safetensors',
    );
  }
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false });
  } catch (cause) {
    throw new CheckpointError(
      'bad-header',
      path,
      `is not a PyTorch checkpoint archive (a zip file): ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    return await tensorsOf(zip, path);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(
      'bad-header',
      path,
      `is not a readable PyTorch checkpoint archive: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    zip.close();
  }
}

/** Every tensor of the archive's state dict, located in the file. */
async function tensorsOf(
  zip: yauzl.ZipFile,
  path: string,
): Promise<{ tensors: Map<string, TensorEntry>; strided: Set<string> }> {
  const entries = new Map<string, yauzl.Entry>();
  for await (const entry of zip.eachEntry()) entries.set(entry.fileName, entry);
  const pickle = [...entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pickle) {
    throw new CheckpointError(
      'bad-header',
      path,
      'is a zip archive without <name>/data.pkl; expected a checkpoint written by torch.save',
    );
  }
  const prefix = pickle.slice(0, -'data.pkl'.length);
  const byteOrder = entries.get(`${prefix}byteorder`);
  if (byteOrder && (await readEntry(zip, byteOrder, path)).toString().trim() !== 'little') {
    throw new CheckpointError('bad-header', path, 'stores big-endian tensors; expected little-endian');
  }
  const records = readTorchStateDict(await readEntry(zip, entries.get(pickle)!, path), path);
  const dataStarts = new Map<string, { start: number; size: number }>();
  const tensors = new Map<string, TensorEntry>();
  const strided = new Set<string>();
  for (const [name, record] of records) {
    let storage = dataStarts.get(record.storageKey);
    if (!storage) {
      const entry = entries.get(`${prefix}data/${record.storageKey}`);
      if (!entry) {
        throw new CheckpointError(
          'bad-header',
          path,
          `tensor "${name}" is in storage ${record.storageKey}, which the archive does not contain`,
        );
      }
      if (entry.compressionMethod !== 0) {
        throw new CheckpointError(
          'bad-header',
          path,
          `storage ${record.storageKey} is compressed (zip method ${entry.compressionMethod}); torch.save stores storages uncompressed`,
        );
      }
      const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
      storage = { start: fileDataStart, size: entry.uncompressedSize };
      dataStarts.set(record.storageKey, storage);
    }
    const itemBytes = ELEMENT_BYTES[record.dtype] ?? 0;
    const elements = record.shape.reduce((a, d) => a * d, 1);
    const begin = storage.start + record.storageOffset * itemBytes;
    const end = begin + elements * itemBytes;
    if (elements > 0 && end > storage.start + storage.size) {
      throw new CheckpointError(
        'truncated',
        path,
        `tensor "${name}" ends at element ${record.storageOffset + elements} of storage ${record.storageKey}, which holds ${storage.size / Math.max(itemBytes, 1)}`,
      );
    }
    if (!isContiguous(record)) strided.add(name);
    tensors.set(name, { name, dtype: record.dtype, shape: record.shape, begin, end });
  }
  return { tensors, strided };
}

/** Whether the tensor's elements are laid out row-major without gaps (dimensions of size 1 aside). */
function isContiguous(record: TorchTensorRecord): boolean {
  let expected = 1;
  for (let d = record.shape.length - 1; d >= 0; d--) {
    const size = record.shape[d]!;
    if (size !== 1 && record.stride[d] !== expected) return false;
    expected *= size;
  }
  return true;
}

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, path: string): Promise<Buffer> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of await zip.openReadStreamPromise(entry)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } catch (cause) {
    throw new CheckpointError(
      'truncated',
      path,
      `cannot read ${entry.fileName}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
}
