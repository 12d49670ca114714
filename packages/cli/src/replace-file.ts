import { rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `text` to `file` whole or not at all: into a temporary file beside it, then renamed over
 * it, so that a process ended meanwhile (its stdout's reader gone, a signal) leaves the old file
 * or the new one, never half of either.
 */
export async function replaceFile(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, text);
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
