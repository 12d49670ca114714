import { mkdir, realpath, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { OptionError } from '@treespec/core';
import { pathExists } from './path-exists.js';

/**
 * Runs `write` into the folder `out`, creating it and its missing parents first. Where `write`
 * fails and this call created `out`, the folder goes again with whatever the failed write left in
 * it, and so do the parents it created, where empty: a failed conversion into a new folder leaves
 * no folder behind. A folder that existed stays: a failed conversion leaves its models, tokenizer
 * files and manifest as they were (a conversion writes each file under a temporary name and renames
 * it when complete, the tokenizer files after the model, the manifest last).
 * `sources` are the checkpoint folders the conversion reads: `out` may be none of them, or the
 * bundle's files would be written among (and over) a checkpoint's own.
 * @throws OptionError (option `out`) when `out` is a file, a source folder, or a folder that
 *   cannot be made there.
 */
export async function intoOutputDirectory<T>(
  out: string,
  sources: readonly string[],
  write: () => Promise<T>,
): Promise<T> {
  const folder = resolve(out);
  const real = (path: string) => realpath(path).catch(() => resolve(path));
  const outReal = await real(folder);
  for (const source of sources) {
    if ((await real(source)) === outReal) {
      throw new OptionError('out', out, `a folder other than the checkpoint ${source} the conversion reads`);
    }
  }
  const missing = await firstMissing(folder);
  if (missing === null) await requireFolder(out, folder);
  const created = missing === null ? null : await makeFolders(out, folder, missing);
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

/** Throws unless the existing `folder` is a folder. */
async function requireFolder(out: string, folder: string): Promise<void> {
  if (!(await stat(folder)).isDirectory()) {
    throw new OptionError('out', out, 'a folder to write the bundle into; it is a file');
  }
}

/**
 * Makes `missing` and each folder below it down to `folder`, one level at a time (a recursive
 * `mkdir` never returns where the parent refuses new entries without saying so: ENOENT in /proc),
 * and returns the outermost folder this call made: a level that another process made meanwhile
 * is not this call's to remove. Where a level cannot be made, the levels made go again.
 */
async function makeFolders(out: string, folder: string, missing: string): Promise<string | null> {
  const levels = [folder];
  while (levels[0] !== missing) levels.unshift(dirname(levels[0] as string));
  let made: string | null = null;
  for (const dir of levels) {
    try {
      await mkdir(dir);
      made ??= dir;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && (await isFolder(dir))) continue;
      if (made !== null) await removeCreated(dirname(dir), made);
      throw new OptionError(
        'out',
        out,
        `a folder that can be made; making ${dir} failed (${code ?? String(error)})`,
      );
    }
  }
  return made;
}

/** Whether `path` is a folder (following links); false where it is anything else or nothing. */
async function isFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
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
