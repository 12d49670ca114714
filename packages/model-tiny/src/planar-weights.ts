import { createHash } from 'node:crypto';
import { ModelFormatError } from '@treespec/core';

/**
 * Planar weights: a bf16 safetensors file stored so that npm's gzip packs it small. The high
 * byte of a bf16 value (sign and most of the exponent) takes few distinct values and compresses
 * well, the low byte (mantissa) hardly at all; interleaved, gzip gets little from either. A planar
 * file keeps the original safetensors header verbatim, then all high bytes, then all low bytes,
 * and may leave out tensors another checkpoint holds bit for bit (the EAGLE head's copy of the
 * target's embedding). Unpacking rebuilds the original file byte for byte and checks its sha256.
 */
export const PLANAR_FORMAT = 'treespec-planar-weights';

/** A tensor left out of a planar file because another checkpoint holds the same bytes. */
export interface SharedTensor {
  /** Folder name of the checkpoint that holds it (e.g. `treespec-tiny`). */
  readonly checkpoint: string;
  /** Its name in that checkpoint. */
  readonly tensor: string;
}

interface PlanarHeader {
  readonly format: typeof PLANAR_FORMAT;
  readonly version: 1;
  /** sha256 of the original safetensors file. */
  readonly sha256: string;
  /** The original safetensors header, byte for byte (JSON text with its padding). */
  readonly safetensorsHeader: string;
  /** Tensors left out, by name, with where to copy them from. */
  readonly shared: Readonly<Record<string, SharedTensor>>;
}

interface TensorSpan {
  readonly name: string;
  readonly dtype: string;
  readonly begin: number;
  readonly end: number;
}

const TWO_BYTE_DTYPES = new Set(['BF16', 'F16']);

function readU64(bytes: Uint8Array, offset: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, true));
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The tensors a safetensors header describes, in the order of their bytes. */
function tensorSpans(headerText: string, where: string): TensorSpan[] {
  const header = JSON.parse(headerText) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, t]) => ({ name, dtype: t.dtype, begin: t.data_offsets[0], end: t.data_offsets[1] }))
    .sort((a, b) => a.begin - b.begin)
    .map((span) => {
      if (!TWO_BYTE_DTYPES.has(span.dtype)) {
        throw new ModelFormatError(
          `expected 2-byte tensors (BF16, F16) in planar weights, found ${span.name} in ${span.dtype}`,
          { file: where },
        );
      }
      return span;
    });
}

/** Splits a safetensors file (every tensor BF16 or F16) into a planar file, leaving out `shared` tensors. */
export function packPlanarWeights(
  safetensors: Uint8Array,
  shared: Readonly<Record<string, SharedTensor>> = {},
  where = 'model.safetensors',
): Uint8Array {
  const headerLength = readU64(safetensors, 0);
  const dataStart = 8 + headerLength;
  const safetensorsHeader = new TextDecoder().decode(safetensors.subarray(8, dataStart));
  const kept = tensorSpans(safetensorsHeader, where).filter((span) => !(span.name in shared));
  const keptBytes = kept.reduce((sum, span) => sum + span.end - span.begin, 0);
  const half = keptBytes / 2;
  const planes = new Uint8Array(keptBytes);
  let value = 0;
  for (const span of kept) {
    for (let i = dataStart + span.begin; i < dataStart + span.end; i += 2, value++) {
      planes[value] = safetensors[i + 1]!;
      planes[half + value] = safetensors[i]!;
    }
  }
  const header: PlanarHeader = {
    format: PLANAR_FORMAT,
    version: 1,
    sha256: sha256(safetensors),
    safetensorsHeader,
    shared,
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + headerBytes.length + planes.length);
  out.set(u64(headerBytes.length), 0);
  out.set(headerBytes, 8);
  out.set(planes, 8 + headerBytes.length);
  return out;
}

/** The checkpoints a planar file copies tensors from (resolve them before {@link unpackPlanarWeights}). */
export function planarDependencies(planar: Uint8Array): string[] {
  return [
    ...new Set(Object.values(readPlanarHeader(planar, 'planar weights').shared).map((s) => s.checkpoint)),
  ];
}

function readPlanarHeader(planar: Uint8Array, where: string): PlanarHeader {
  const length = readU64(planar, 0);
  const header = JSON.parse(new TextDecoder().decode(planar.subarray(8, 8 + length))) as PlanarHeader;
  if (header.format !== PLANAR_FORMAT || header.version !== 1) {
    throw new ModelFormatError(
      `expected ${PLANAR_FORMAT} version 1, found ${header.format} ${header.version}`,
      {
        file: where,
      },
    );
  }
  return header;
}

/** The bytes of one tensor of a safetensors file. */
export function safetensorsTensor(safetensors: Uint8Array, name: string, where: string): Uint8Array {
  const dataStart = 8 + readU64(safetensors, 0);
  const headerText = new TextDecoder().decode(safetensors.subarray(8, dataStart));
  const span = tensorSpans(headerText, where).find((s) => s.name === name);
  if (!span) throw new ModelFormatError(`expected a tensor named ${name}, found none`, { file: where });
  return safetensors.subarray(dataStart + span.begin, dataStart + span.end);
}

/**
 * Rebuilds the original safetensors file of a planar file. `checkpoint(name)` returns the
 * unpacked safetensors bytes of a checkpoint the planar file shares tensors with.
 * @throws ModelFormatError when the rebuilt file's sha256 is not the one recorded at packing.
 */
export function unpackPlanarWeights(
  planar: Uint8Array,
  checkpoint: (name: string) => Uint8Array,
  where = 'planar weights',
): Uint8Array {
  const header = readPlanarHeader(planar, where);
  const planarStart = 8 + readU64(planar, 0);
  const headerBytes = new TextEncoder().encode(header.safetensorsHeader);
  const spans = tensorSpans(header.safetensorsHeader, where);
  const dataStart = 8 + headerBytes.length;
  const out = new Uint8Array(dataStart + Math.max(0, ...spans.map((s) => s.end)));
  out.set(u64(headerBytes.length), 0);
  out.set(headerBytes, 8);
  const half = (planar.length - planarStart) / 2;
  let value = 0;
  for (const span of spans) {
    const source = header.shared[span.name];
    if (source) {
      const bytes = safetensorsTensor(checkpoint(source.checkpoint), source.tensor, source.checkpoint);
      out.set(bytes, dataStart + span.begin);
      continue;
    }
    for (let i = dataStart + span.begin; i < dataStart + span.end; i += 2, value++) {
      out[i + 1] = planar[planarStart + value]!;
      out[i] = planar[planarStart + half + value]!;
    }
  }
  const found = sha256(out);
  if (found !== header.sha256) {
    throw new ModelFormatError(
      `expected the rebuilt weights to have sha256 ${header.sha256}, found ${found}`,
      {
        file: where,
      },
    );
  }
  return out;
}
