import { rename, rm, stat, writeFile } from 'node:fs/promises';

/**
 * Writes `text` to `file` whole or not at all: into a temporary file beside it, then renamed over
 * it, so that a process ended meanwhile (its stdout's reader gone, a signal) leaves the old file
 * or the new one, never half of either. A device or a pipe is written to directly.
 */
export async function replaceFile(file: string, text: string): Promise<void> {
  // A device or a pipe (`--json /dev/stdout`) is written to, not replaced.
  const info = await stat(file).catch(() => null);
  if (info && !info.isFile()) {
    await writeFile(file, text);
    return;
  }
  const partial = `${file}.${process.pid}.partial`;
  try {
    await writeFile(partial, text);
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}
