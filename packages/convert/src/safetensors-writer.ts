import { writeFile } from 'node:fs/promises';
import { floatToBfloat16Bits, floatToHalfBits } from './float-conversion.js';

/** One tensor to write: float values are rounded to `dtype` (nearest, ties to even). */
export interface SafetensorsTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'F32' | 'F16' | 'BF16';
  readonly data: Float32Array;
}

/**
 * Writes a safetensors file (8-byte header length, JSON header, tensor bytes in order).
 * Meant for tests and tools that need small checkpoints; it holds the whole file in memory.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensor[],
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const body = encode(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + body.length] };
    bodies.push(body);
    offset += body.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  await writeFile(path, Buffer.concat([prefix, headerBytes, ...bodies]));
}

function encode(t: SafetensorsTensor): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(Float32Array.from(t.data).buffer);
  const round = t.dtype === 'F16' ? floatToHalfBits : floatToBfloat16Bits;
  const out = new Uint16Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = round(t.data[i]!);
  return new Uint8Array(out.buffer);
}
