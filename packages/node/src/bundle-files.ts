import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { ModelFormatError } from '@treespec/core';
import { checkedBundlePaths, checkTokenizerHash, type Manifest } from '@treespec/onnx';
import { ModelLoadError } from './session.js';

/**
 * Resolves every file the manifest names inside `directory`, following symlinks, and checks that
 * each one (after resolving) is still inside the directory.
 * @throws ModelFormatError naming the manifest, the field and the path, for a path that leaves the
 * directory; ModelLoadError for a file that is missing.
 */
export async function resolveBundleFiles(
  directory: string,
  manifest: Manifest,
  manifestFile: string,
): Promise<void> {
  const root = await realpath(directory);
  for (const { path, field } of checkedBundlePaths(manifest, manifestFile)) {
    let real: string;
    try {
      real = await realpath(join(root, path));
    } catch (cause) {
      throw new ModelLoadError(join(directory, path), `the file ${field} names does not exist`, cause);
    }
    const inside = relative(root, real);
    if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new ModelFormatError(
        `${field} names ${JSON.stringify(path)}, which resolves to ${real}, outside the model directory ${root}`,
        { file: manifestFile },
      );
    }
  }
}

/** Checks the bundle's tokenizer.json against the target's recorded sha256. */
export async function checkBundleTokenizer(directory: string, manifest: Manifest): Promise<void> {
  const target = manifest.models.find((m) => m.role === 'target');
  if (!target) return;
  const file = join(directory, 'tokenizer.json');
  await checkTokenizerHash(new Uint8Array(await readFile(file)), target, file);
}
