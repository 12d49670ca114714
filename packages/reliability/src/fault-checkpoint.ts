import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { linkedCopy } from './linked-copy.js';

/** PyTorch checkpoints written by torch itself (the converter's test fixtures). */
export const TORCH_FIXTURES = fileURLToPath(new URL('../../convert/test/fixtures/torch/', import.meta.url));

/** The tiny draft LM's Hugging Face checkpoint, the smallest real one. */
export const DRAFT_CHECKPOINT = fileURLToPath(
  new URL('../../model-tiny/checkpoints/treespec-tiny-draft/', import.meta.url),
);

/** How a fault checkpoint differs from the tiny draft's. */
export interface CheckpointFault {
  config?: (config: Record<string, unknown>) => void;
  configText?: string;
  /** New bytes of model.safetensors from the original's. */
  safetensors?: (original: Buffer) => Uint8Array;
  remove?: readonly string[];
  /** Files to add: name in the checkpoint → the file whose bytes it gets. */
  add?: Readonly<Record<string, string>>;
}

const made: string[] = [];

/** A fresh temp folder (removed by {@link removeFaultCheckpoints}). */
export function tempFolder(prefix = 'treespec-out-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A copy of the tiny draft checkpoint with one fault (unchanged files hard-linked). */
export function faultCheckpoint(fault: CheckpointFault = {}): string {
  const dir = tempFolder('treespec-ckpt-');
  const replace = linkedCopy(DRAFT_CHECKPOINT, dir);
  if (fault.config) {
    const config = JSON.parse(readFileSync(join(DRAFT_CHECKPOINT, 'config.json'), 'utf8'));
    fault.config(config);
    replace('config.json', JSON.stringify(config));
  }
  if (fault.configText !== undefined) replace('config.json', fault.configText);
  if (fault.safetensors)
    replace(
      'model.safetensors',
      fault.safetensors(readFileSync(join(DRAFT_CHECKPOINT, 'model.safetensors'))),
    );
  for (const name of fault.remove ?? []) unlinkSync(join(dir, name));
  for (const [name, source] of Object.entries(fault.add ?? {}))
    writeFileSync(join(dir, name), readFileSync(source));
  return dir;
}

/** Removes every folder made here. */
export function removeFaultCheckpoints(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A safetensors header: tensor name → entry (plus `__metadata__`). */
export type SafetensorsHeader = Record<
  string,
  { dtype: string; shape: number[]; data_offsets: number[] } | Record<string, string>
>;

/** Splits a safetensors file into its header and data. */
export function readHeader(file: Buffer): { header: SafetensorsHeader; data: Buffer } {
  const length = Number(file.readBigUInt64LE(0));
  return {
    header: JSON.parse(file.subarray(8, 8 + length).toString('utf8')),
    data: file.subarray(8 + length),
  };
}

/** Joins a header (any JSON text) and data into a safetensors file. */
export function writeHeader(header: string, data: Uint8Array): Buffer {
  const json = Buffer.from(header, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

/** A safetensors file with its header edited. */
export function editHeader(edit: (header: SafetensorsHeader) => void): (file: Buffer) => Buffer {
  return (file) => {
    const { header, data } = readHeader(file);
    edit(header);
    return writeHeader(JSON.stringify(header), data);
  };
}

/** The first tensor entry of a header (by name order). */
export function firstTensor(header: SafetensorsHeader): {
  dtype: string;
  shape: number[];
  data_offsets: number[];
} {
  const name = Object.keys(header)
    .filter((k) => k !== '__metadata__')
    .sort()[0]!;
  return header[name] as { dtype: string; shape: number[]; data_offsets: number[] };
}
