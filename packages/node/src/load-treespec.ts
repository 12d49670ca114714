import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BundleOptions,
  createTextGenerator,
  GPU_TREE,
  type TextGenerator,
  treeBudget,
} from '@treespec/generator';
import { MANIFEST_FILE, parseManifest } from '@treespec/onnx';
import { loadTokenizer } from '@treespec/tokenizers';
import { createSession, ModelLoadError, type NodeSessionOptions } from './session.js';
import { storedSeeds } from './tuning-cache.js';

/** Options of {@link loadTreespec}: which drafter and tree, and how sessions run. */
export interface LoadTreespecOptions extends BundleOptions, NodeSessionOptions {
  /**
   * The tuning cache that seeds the budget controller unless `controllerSeeds` is given: a file
   * path, or false to start unseeded. Default: the OS cache directory's (`treespec tune` writes it).
   */
  tuningCache?: string | false;
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
  const tokenizer = await loadTokenizer(directory);
  const onGpu = options.executionProvider === 'webgpu' || options.executionProvider === 'cuda';
  const provider = options.executionProvider ?? 'cpu';
  const controllerSeeds = options.controllerSeeds ?? (await storedSeeds(text, provider, options.tuningCache));
  return createTextGenerator(
    {
      manifest,
      manifestFile,
      tokenizer,
      openSession: (model) =>
        createSession(join(directory, model.file), options, model.role === 'target' ? 'target' : 'drafter'),
    },
    { ...options, ...(onGpu ? { tree: treeBudget(GPU_TREE, options.tree) } : {}), controllerSeeds },
  );
}
