import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathExists } from './path-exists.js';

/**
 * Runs `write` into the folder `out`, creating it and its missing parents first. Where `write`
 * fails and this call created `out`, the folder goes again with whatever the failed write left in
 * it, and so do the parents it created, where empty: a failed conversion into a new folder leaves
 * no folder behind. A folder that existed stays: a failed conversion leaves its models and manifest
 * as they were (their files are written under temporary names and renamed when complete), and
 * may have copied the checkpoint's tokenizer files into it.
 */
export async function intoOutputDirectory<T>(out: string, write: () => Promise<T>): Promise<T> {
  const folder = resolve(out);
  const created = await firstMissing(folder);
  await mkdir(folder, { recursive: true });
  try {
    return await write();
  } catch (error) {
    if (created !== null) await removeCreated(folder, created);
    throw error;
  }
}

/** The outermost of `folder` and its parents that does not exist, or null when `folder` does. */
async function firstMissing(folder: string): Promise<string | null> {
  let missing: string | null = null;
  for (let dir = folder; !(await pathExists(dir)); dir = dirname(dir)) {
    missing = dir;
    if (dirname(dir) === dir) break;
  }
  return missing;
}

/**
 * Removes `folder` and each of its parents up to `created` (an ancestor of it, or itself, that
 * this conversion made) that is now empty; stops at the first that is not.
 */
async function removeCreated(folder: string, created: string): Promise<void> {
  await rm(folder, { recursive: true, force: true });
  for (let dir = folder; dir !== created; ) {
    dir = dirname(dir);
    try {
      await rmdir(dir);
    } catch {
      return;
    }
  }
}
