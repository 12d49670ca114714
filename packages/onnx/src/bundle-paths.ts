import { ModelFormatError } from '@treespec/core';
import { checkBundleLimits } from './bundle-limits.js';
import type { Manifest } from './manifest-schema.js';

/** One file a manifest names, with the field that names it. */
export interface BundlePath {
  /** The path as written, relative to the manifest's directory. */
  readonly path: string;
  /** The manifest field that names it, e.g. `models[0].file`. */
  readonly field: string;
}

/**
 * Checks a parsed manifest before anything is allocated or opened for it: its dims within
 * `MAX_MANIFEST_DIMS`, and every file it names (model files, external data, tokenizer files)
 * inside the manifest's directory as written: relative, with `/` separators, no `..`
 * segment, no drive letter or NUL. Symlinks are the loader's to resolve (the Node loader
 * resolves them and checks again).
 * @throws ModelFormatError naming `file`, the field and the path.
 */
export function checkedBundlePaths(manifest: Manifest, file: string): BundlePath[] {
  checkBundleLimits(manifest, file);
  const paths: BundlePath[] = [];
  manifest.models.forEach((model, i) => {
    paths.push({ path: model.file, field: `models[${i}].file` });
    for (const [j, path] of model.externalData.entries())
      paths.push({ path, field: `models[${i}].externalData[${j}]` });
    for (const [j, path] of model.tokenizer.files.entries())
      paths.push({ path, field: `models[${i}].tokenizer.files[${j}]` });
  });
  for (const { path, field } of paths) checkBundlePath(path, field, file);
  return paths;
}

/**
 * Checks that `path` (from manifest field `field`) names a file inside the manifest's directory.
 * @throws ModelFormatError naming `file`, the field and the path.
 */
export function checkBundlePath(path: string, field: string, file: string): void {
  const why = outsideReason(path);
  if (why) {
    throw new ModelFormatError(
      `${field} must name a file inside the model directory; got ${JSON.stringify(path)} (${why})`,
      { file },
    );
  }
}

function outsideReason(path: unknown): string | null {
  if (typeof path !== 'string') return 'not a string';
  if (path.length === 0) return 'empty';
  if (path.includes('\0')) return 'it contains a NUL character';
  if (path.includes('\\')) return 'use / as the separator';
  if (path.startsWith('/')) return 'an absolute path';
  if (/^[A-Za-z]:/.test(path) || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(path)) return 'a drive or a URL';
  if (path.split('/').some((segment) => segment === '..')) return 'it climbs out with ..';
  return null;
}
