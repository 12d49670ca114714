import { join } from 'node:path';
import { AbortError } from '@treespec/core';
import type { ManifestModel } from '@treespec/onnx';
import type { Checkpoint } from './checkpoint.js';
import { stageChecksums } from './checksums-file.js';
import type { DecoderConfig } from './config.js';
import { manifestDims, type ResolvedOptions } from './convert-options.js';
import type { GraphBuilder } from './graph-builder.js';
import { stageManifestModel } from './manifest-file.js';
import { stageModelFile } from './model-file.js';
import { PARTIAL, StagedFiles } from './staged-files.js';
import type { StagedTokenizer } from './tokenizer-files.js';

/**
 * A model written into a bundle: its manifest entry, the manifest's path, the model's bytes and
 * the checkpoint's tensors it left out.
 */
export interface BundleModel {
  readonly model: ManifestModel;
  readonly manifestPath: string;
  readonly bytes: number;
  readonly unusedTensors: readonly string[];
}

/** What {@link addToBundle} writes: the model and its manifest entry. */
export interface BundleAddition {
  /** The bundle folder. */
  readonly out: string;
  /** The model's id, options resolved; its config (the entry's `dims`). */
  readonly resolved: ResolvedOptions;
  readonly config: DecoderConfig;
  readonly tokenizer: StagedTokenizer;
  /** Adds the graph's content (weights stream to the external data file meanwhile). */
  build(g: GraphBuilder): Promise<void>;
  /** The checkpoint the model's own weights come from, whose unused tensors the result lists. */
  readonly checkpoint: Checkpoint;
  /**
   * The rest of the model's manifest entry: beside what every model has the same way (its id,
   * files, dtype, weight format and quantization, dims), which {@link addToBundle} fills in.
   */
  entry: Omit<
    ManifestModel,
    'id' | 'file' | 'externalData' | 'dtype' | 'weightFormat' | 'quantization' | 'dims'
  >;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Adds one converted model to a bundle as one change: the model's files are written under
 * temporary names, then the tokenizer files, the checksums and the manifest (validated with the
 * new entry) are staged too, and only then do all take their names, the manifest last. Whatever
 * fails before that (a bad manifest entry, a model of another role under the id, a disk that
 * fills up, an aborted `signal`) leaves the bundle as it was, and so does a rename that fails
 * among them ({@link StagedFiles.commit}).
 */
export async function addToBundle(addition: BundleAddition): Promise<BundleModel> {
  const { out, resolved, config, tokenizer, signal } = addition;
  const staged = new StagedFiles();
  try {
    const written = await stageModelFile(out, resolved.id, addition.build, staged, signal);
    const model: ManifestModel = {
      id: resolved.id,
      file: written.file,
      externalData: written.externalData,
      dtype: 'float32',
      weightFormat: resolved.format.name,
      ...(resolved.format.quantization ? { quantization: resolved.format.quantization } : {}),
      dims: manifestDims(config, resolved.maxContext),
      ...addition.entry,
    };
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
    return {
      model,
      manifestPath,
      bytes: written.bytes,
      // A checkpoint with tied embeddings may store the lm_head they stand for, as transformers
      // saves it: the model uses it as the embedding.
      unusedTensors: addition.checkpoint.unusedTensorNames(
        config.tieWordEmbeddings ? ['lm_head.weight'] : [],
      ),
    };
  } catch (error) {
    await staged.discard();
    throw error;
  }
}
