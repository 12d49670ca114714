import { join } from 'node:path';
import { AbortError } from '@treespec/core';
import type { ManifestModel } from '@treespec/onnx';
import { stageChecksums } from './checksums-file.js';
import { stageManifestModel } from './manifest-file.js';
import type { WrittenModel } from './model-file.js';
import { PARTIAL, StagedFiles } from './staged-files.js';
import type { StagedTokenizer } from './tokenizer-files.js';

/** A model written into a bundle: its manifest entry, the manifest's path and the model's bytes. */
export interface BundleModel {
  readonly model: ManifestModel;
  readonly manifestPath: string;
  readonly bytes: number;
}

/**
 * Adds one converted model to the bundle in `out` as one change: `stage` writes the model's files
 * under temporary names and returns them with its manifest entry; then the tokenizer files, the
 * checksums and the manifest (validated with the new entry) are staged too, and only then do all
 * take their names, the manifest last. Whatever fails before that (a bad manifest entry, a model
 * of another role under the id, a disk that fills up) leaves the bundle as it was, and so does a
 * rename that fails among them ({@link StagedFiles.commit}).
 */
export async function addToBundle(
  out: string,
  tokenizer: StagedTokenizer,
  stage: (staged: StagedFiles) => Promise<{ written: WrittenModel; model: ManifestModel }>,
  signal?: AbortSignal,
): Promise<BundleModel> {
  const staged = new StagedFiles();
  try {
    const { written, model } = await stage(staged);
    await tokenizer.stage(staged);
    const files = [written.file, ...written.externalData];
    await stageChecksums(
      out,
      files.map((name) => [name, join(out, name) + PARTIAL]),
      staged,
    );
    const manifestPath = await stageManifestModel(out, model, staged);
    if (signal?.aborted) throw new AbortError(`converting into ${out} was aborted`);
    await staged.commit();
    return { model, manifestPath, bytes: written.bytes };
  } catch (error) {
    await staged.discard();
    throw error;
  }
}
