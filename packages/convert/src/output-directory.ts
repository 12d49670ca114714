import { mkdir, rm, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Runs `write` into the folder `out`, creating it and its missing parents first. Where `write`
 * fails and this call created `out`, the folder goes again with whatever the failed write left in
 * it, and so do the parents it created, where empty: a failed conversion into a new folder leaves
 * no folder behind. A folder that existed stays: a failed conversion leaves its models and manifest
 * as they were (their files are written under temporary names and renamed when complete), and
 * may have copied the checkpoint's tokenizer files into it.
 */
export async function intoOutputDirectory<T>(out: string, write: () => Promise<T>): Promise<T> {
  const created = await mkdir(out, { recursive: true });
  try {
    return await write();
  } catch (error) {
    if (created !== undefined) await removeCreated(resolve(out), resolve(created));
    throw error;
  }
}

/** Removes `out` and, up to `created`, each parent this conversion created that is now empty. */
async function removeCreated(out: string, created: string): Promise<void> {
  await rm(out, { recursive: true, force: true });
  for (let dir = dirname(out); out !== created && dir.startsWith(created); dir = dirname(dir)) {
    try {
      await rmdir(dir);
    } catch {
      return;
    }
    if (dir === created) return;
  }
}
