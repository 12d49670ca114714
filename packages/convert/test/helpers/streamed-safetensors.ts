import { open } from 'node:fs/promises';
import { floatToBfloat16Bits } from '../../src/index.js';

/** A tensor streamed to disk in chunks of raw little-endian bytes. */
export interface RawTensor {
  readonly name: string;
  readonly dtype: 'BF16' | 'I64' | 'BOOL';
  readonly shape: readonly number[];
  readonly bytes: number;
  chunks(): Iterable<Uint8Array>;
}

/** Most bytes one chunk holds, so that writing a 1 GB tensor never needs 1 GB of memory. */
const CHUNK = 1 << 22;

/**
 * A bf16 tensor of seeded uniform values in `offset` ± `scale`: one random chunk of at most 4 MB
 * is drawn and repeated (shapes matter here, not values), so gigabyte tensors cost only their
 * disk writes.
 */
export function bf16Tensor(
  name: string,
  shape: readonly number[],
  random: () => number,
  scale = 0.02,
  offset = 0,
): RawTensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const block = new Uint16Array(Math.min(count, CHUNK / 2));
  for (let i = 0; i < block.length; i++) block[i] = floatToBfloat16Bits(offset + (random() * 2 - 1) * scale);
  const bytes = new Uint8Array(block.buffer);
  return {
    name,
    dtype: 'BF16',
    shape,
    bytes: count * 2,
    *chunks() {
      for (let left = count * 2; left > 0; left -= bytes.length)
        yield bytes.subarray(0, Math.min(left, bytes.length));
    },
  };
}

/** Writes a safetensors file tensor by tensor, chunk by chunk. */
export async function writeRawSafetensors(path: string, tensors: readonly RawTensor[]): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes] };
    offset += t.bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const file = await open(path, 'w');
  try {
    await file.write(prefix);
    await file.write(headerBytes);
    for (const t of tensors) for (const chunk of t.chunks()) await file.write(chunk);
  } finally {
    await file.close();
  }
}
