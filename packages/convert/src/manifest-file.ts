import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OptionError } from '@treespec/core';
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type ManifestModel,
  parseManifest,
  validateManifest,
} from '@treespec/onnx';
import type { StagedFiles } from './staged-files.js';
import { GENERATOR } from './version.js';

/** Reads `<directory>/treespec.json`, or returns null when there is none. */
export async function readManifest(directory: string): Promise<Manifest | null> {
  const path = join(directory, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new OptionError(
      'out',
      directory,
      `a folder whose ${MANIFEST_FILE} can be read; reading ${path} failed (${code ?? String(error)})`,
    );
  }
  return parseManifest(text, path);
}

/**
 * Adds `model` to the directory's manifest, validates the result and stages it in `staged` (to be
 * written when the conversion's files are). An entry with the same id is replaced where it stands
 * (the first model of a role is the one loads take by default, so converting a model again must
 * not change which that is), and only by a model of its role; everything else the manifest holds
 * (the budgets `treespec tune --write` stored) is kept. Returns the manifest's path.
 * @throws OptionError (option `id`) when the id is another role's model's.
 */
export async function stageManifestModel(
  directory: string,
  model: ManifestModel,
  staged: StagedFiles,
): Promise<string> {
  const path = join(directory, MANIFEST_FILE);
  const existing = await readManifest(directory);
  const models = [...(existing?.models ?? [])];
  const at = models.findIndex((m) => m.id === model.id);
  const replaced = models[at];
  if (replaced && replaced.role !== model.role) {
    throw new OptionError(
      'id',
      model.id,
      `an id that no model of another role has in ${path}: "${model.id}" is its ${replaced.role}; ` +
        'give this one another id (--id)',
    );
  }
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
  await staged.write(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}
