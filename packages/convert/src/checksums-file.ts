import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHECKSUMS_FILE } from '@treespec/onnx';
import { StagedFiles } from './staged-files.js';

/** Hex sha256 of a file, read as a stream (weights can be gigabytes). */
export function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Records the sha256 of `names` (files in `directory`) in its {@link CHECKSUMS_FILE}, replacing
 * earlier lines for the same names, so that `treespec inspect --verify` and
 * `loadTreespec(dir, { verifyWeights: true })` can tell a corrupted or swapped weight file.
 */
export async function recordChecksums(directory: string, names: readonly string[]): Promise<void> {
  const staged = new StagedFiles();
  await stageChecksums(
    directory,
    names.map((name) => [name, join(directory, name)]),
    staged,
  );
  await staged.commit();
}

/**
 * {@link recordChecksums} staged in `staged`: `files` are `[name, path]`, the name the bundle will
 * know a file by and where it is now (a staged file's temporary path).
 */
export async function stageChecksums(
  directory: string,
  files: readonly (readonly [string, string])[],
  staged: StagedFiles,
): Promise<void> {
  const path = join(directory, CHECKSUMS_FILE);
  const lines = new Map<string, string>();
  const existing = await readFile(path, 'utf8').catch(() => '');
  for (const line of existing.split('\n')) {
    const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (match) lines.set(match[2]!, match[1]!);
  }
  for (const [name, at] of files) lines.set(name, await sha256OfFile(at));
  const sorted = [...lines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await staged.write(path, sorted.map(([name, hash]) => `${hash}  ${name}\n`).join(''));
}
