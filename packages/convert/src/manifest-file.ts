import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestModel,
  parseManifest,
  validateManifest,
} from '@treespec/onnx';
import { GENERATOR } from './version.js';

/** Reads `<directory>/treespec.json`, or returns null when there is none. */
export async function readManifest(directory: string): Promise<Manifest | null> {
  const path = join(directory, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return parseManifest(text, path);
}

/**
 * Adds `model` to the directory's manifest, replacing an entry with the same id, validates the
 * result and writes it. Returns the manifest's path.
 */
export async function upsertManifestModel(directory: string, model: ManifestModel): Promise<string> {
  const path = join(directory, MANIFEST_FILE);
  const existing = await readManifest(directory);
  const models = (existing?.models ?? []).filter((m) => m.id !== model.id);
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    generator: GENERATOR,
    models: [...models, model],
  };
  validateManifest(manifest, path);
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
