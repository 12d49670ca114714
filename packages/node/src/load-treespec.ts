import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BundleOptions,
  createTextGenerator,
  GPU_TREE,
  type TextGenerator,
  treeBudget,
} from '@treespec/generator';
import { checkGraph, MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { loadTokenizer } from '@treespec/tokenizers';
import { checkBundleTokenizer, resolveBundleFiles, verifyChecksums } from './bundle-files.js';
import { createSession, ModelLoadError, type NodeSessionOptions } from './session.js';

/** Options of {@link loadTreespec}: which drafter and tree, and how sessions run. */
export interface LoadTreespecOptions extends BundleOptions, NodeSessionOptions {
  /** Hash every model file and compare with the checksums recorded at conversion (reads all weights). Default false. */
  verifyWeights?: boolean;
}

/**
 * Loads a treespec model directory (a `treespec.json` manifest, the .onnx files and the
 * tokenizer files, as `treespec convert` writes them) into a {@link TextGenerator}. Validates the
 * manifest and the target/head pair before any session is created. Call `dispose()` when done.
 *
 * ```ts
 * const generator = await loadTreespec('./models/my-model');
 * const { text, stats } = await generator.generate('Once upon a time', { maxTokens: 64 });
 * ```
 */
export async function loadTreespec(
  directory: string,
  options: LoadTreespecOptions = {},
): Promise<TextGenerator> {
  const manifestFile = join(directory, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestFile, 'utf8');
  } catch (cause) {
    throw new ModelLoadError(
      manifestFile,
      'no treespec manifest here; convert a checkpoint first with `treespec convert` (it writes treespec.json)',
      cause,
    );
  }
  const manifest = parseManifest(text, manifestFile);
  await resolveBundleFiles(directory, manifest, manifestFile);
  await checkBundleTokenizer(directory, manifest);
  if (options.verifyWeights) await verifyChecksums(directory);
  const tokenizer = await loadTokenizer(directory);
  const onGpu = options.executionProvider === 'webgpu' || options.executionProvider === 'cuda';
  return createTextGenerator(
    {
      manifest,
      manifestFile,
      tokenizer,
      openSession: async (model) =>
        checkGraph(
          await createSession(
            join(directory, model.file),
            options,
            model.role === 'target' ? 'target' : 'drafter',
          ),
          model,
          join(directory, model.file),
        ),
    },
    onGpu ? { ...options, tree: treeBudget(GPU_TREE, options.tree) } : options,
  );
}
