import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { ModelFormatError, ModelLoadError } from '@treespec/core';
import {
  CHECKSUMS_FILE,
  checkBundlePath,
  checkedBundlePaths,
  checkTokenizerHash,
  externalDataExtents,
  MANIFEST_FILE,
  type Manifest,
  parseManifest,
} from '@treespec/onnx';

/** A bundle's manifest as read: its path, its text (which tuning keys hash) and its validated content. */
export interface BundleManifest {
  readonly file: string;
  readonly text: string;
  readonly manifest: Manifest;
}

/**
 * The bundle manifest (`treespec.json`) in `directory`, read and validated.
 * @throws ModelLoadError naming the manifest's path, and how to make one where there is none, or
 * why it cannot be read (a folder of that name, no permission); ModelFormatError for a manifest
 * that is not valid.
 */
export async function readBundleManifest(directory: string): Promise<BundleManifest> {
  const file = join(directory, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    throw new ModelLoadError(
      file,
      missing
        ? 'no treespec manifest here; convert a checkpoint first with `treespec convert` (it writes treespec.json)'
        : `cannot read the manifest: ${(cause as Error).message}`,
      cause,
    );
  }
  return { file, text, manifest: parseManifest(text, file) };
}

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

/**
 * Hashes every file listed in the bundle's {@link CHECKSUMS_FILE} and compares it with the hash
 * recorded at conversion, and checks that each of `required` (the model files a load reads,
 * {@link modelFiles}) is listed. Reads every weight byte, so loaders do it only when asked
 * (`verifyWeights`). Returns the number of files verified.
 * @throws ModelLoadError when the bundle has no checksums (converted before they were recorded)
 * or a listed file is missing; ModelFormatError naming the file whose bytes changed, or a
 * required file the listing leaves out.
 */
export async function verifyChecksums(directory: string, required: readonly string[] = []): Promise<number> {
  const listing = join(directory, CHECKSUMS_FILE);
  let text: string;
  try {
    text = await readFile(listing, 'utf8');
  } catch (cause) {
    throw new ModelLoadError(
      listing,
      'no weight checksums here; convert the model again with this treespec to record them',
      cause,
    );
  }
  let verified = 0;
  const listed = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
    if (!match) continue;
    const [, recorded, name] = match as unknown as [string, string, string];
    checkBundlePath(name, CHECKSUMS_FILE, listing);
    const file = join(directory, name);
    let found: string;
    try {
      found = await sha256OfFile(file);
    } catch (cause) {
      throw new ModelLoadError(file, `listed in ${CHECKSUMS_FILE} but cannot be read`, cause);
    }
    if (found !== recorded) {
      throw new ModelFormatError(
        `sha256 is ${found}, but ${CHECKSUMS_FILE} recorded ${recorded} at conversion: the file is corrupt or was replaced`,
        { file, code: 'MODEL_MISMATCH' },
      );
    }
    verified++;
    listed.add(name);
  }
  const unlisted = required.find((name) => !listed.has(name));
  if (unlisted !== undefined) {
    throw new ModelFormatError(
      `lists no sha256 of ${unlisted}, which ${MANIFEST_FILE} names: its bytes cannot be checked; convert its model again to record them`,
      { file: listing },
    );
  }
  return verified;
}

/** The model files of a manifest: each model's .onnx file and its external data files. */
export function modelFiles(manifest: Manifest): string[] {
  return manifest.models.flatMap((m) => [m.file, ...m.externalData]);
}

/**
 * Checks a bundle as a load does, and then every weight byte: each file its manifest names is
 * inside `directory`, its tokenizer.json is the one the target was converted with, and each model
 * file is listed in {@link CHECKSUMS_FILE} with the sha256 its bytes have ({@link verifyChecksums}).
 * Returns the number of files hashed.
 * @throws ModelLoadError or ModelFormatError naming the first file that fails.
 */
export async function verifyBundle(directory: string): Promise<number> {
  const { file, manifest } = await readBundleManifest(directory);
  await resolveBundleFiles(directory, manifest, file);
  await checkBundleTokenizer(directory, manifest);
  return verifyChecksums(directory, modelFiles(manifest));
}

function sha256OfFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Where ONNX Runtime could not open the model file `modelPath`: an error naming the first of its
 * external data files that is shorter than the model's weights reach (an interrupted copy,
 * download or conversion), with `cause` as its cause; null when every file is long enough or the
 * model cannot be read.
 */
export async function cutShortWeights(modelPath: string, cause: unknown): Promise<ModelLoadError | null> {
  let extents: Map<string, number>;
  try {
    extents = externalDataExtents(new Uint8Array(await readFile(modelPath)));
  } catch {
    return null;
  }
  for (const [location, needed] of extents) {
    const file = join(dirname(modelPath), location);
    const size = await stat(file).then(
      (s) => s.size,
      () => null,
    );
    if (size !== null && size < needed) {
      return new ModelLoadError(
        file,
        `holds ${size} bytes, but ${basename(modelPath)} reads its weights up to byte ${needed}: the file was cut short (an interrupted copy, download or conversion); copy or convert it again (\`treespec inspect --verify\` checks every weight file)`,
        cause,
      );
    }
  }
  return null;
}
