import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { linkedCopy } from './linked-copy.js';

/** The tiny model bundle every fault starts from. */
export const TINY = tinyModelDirectory();

/** A manifest as JSON, to edit freely. */
export type ManifestJson = {
  models: Array<Record<string, unknown> & { role: string; file: string; dims: Record<string, unknown> }>;
} & Record<string, unknown>;

/** How a fault bundle differs from the tiny one. */
export interface BundleFault {
  /** Edits the manifest (parsed). */
  manifest?: (manifest: ManifestJson) => void;
  /** Replaces the manifest's text outright. */
  manifestText?: string;
  /** Replaces files: new bytes, or a function of the original bytes. */
  files?: Record<string, Uint8Array | string | ((original: Buffer) => Uint8Array | string)>;
  /** Removes files. */
  remove?: readonly string[];
  /** Does anything else to the directory (symlinks, folders). */
  prepare?: (dir: string) => void;
}

const made: string[] = [];

/**
 * A copy of the tiny bundle with one fault, in a fresh temp folder. Unchanged files are hard
 * links (no copying of the weights; a changed file is unlinked first, so the original is never
 * written to), falling back to copies across file systems.
 */
export function faultBundle(fault: BundleFault = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'treespec-fault-'));
  made.push(dir);
  const replace = linkedCopy(TINY, dir);
  if (fault.manifest) {
    const manifest = JSON.parse(readFileSync(join(TINY, 'treespec.json'), 'utf8')) as ManifestJson;
    fault.manifest(manifest);
    replace('treespec.json', JSON.stringify(manifest));
  }
  if (fault.manifestText !== undefined) replace('treespec.json', fault.manifestText);
  for (const [name, content] of Object.entries(fault.files ?? {})) {
    const bytes = typeof content === 'function' ? content(readFileSync(join(TINY, name))) : content;
    replace(name, bytes);
  }
  for (const name of fault.remove ?? []) unlinkSync(join(dir, name));
  fault.prepare?.(dir);
  return dir;
}

/** Removes every bundle {@link faultBundle} made. */
export function removeFaultBundles(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The model entry with `id` of a manifest. */
export function model(manifest: ManifestJson, id: string): ManifestJson['models'][number] {
  const found = manifest.models.find((m) => m.id === id);
  if (!found) throw new Error(`the tiny manifest has no model ${id}`);
  return found;
}

/** `bytes` with the bit `bit` of byte `at` flipped. */
export function flipBit(bytes: Buffer, at: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] ?? 0) ^ (1 << bit);
  return copy;
}
