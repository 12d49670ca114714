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
 * Adds `model` to the directory's manifest, validates the result and writes it. An entry with
 * the same id is replaced where it stands (the first model of a role is the one loads take by
 * default, so converting a model again must not change which that is); everything else the
 * manifest holds (the budgets `treespec tune --write` stored) is kept. Returns the manifest's path.
 */
export async function upsertManifestModel(directory: string, model: ManifestModel): Promise<string> {
  const path = join(directory, MANIFEST_FILE);
  const existing = await readManifest(directory);
  const models = [...(existing?.models ?? [])];
  const at = models.findIndex((m) => m.id === model.id);
  if (at >= 0) models[at] = model;
  else models.push(model);
  const manifest: Manifest = {
    ...existing,
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    generator: GENERATOR,
    models,
  };
  validateManifest(manifest, path);
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
