import { join } from 'node:path';
import type { TextGenerator } from '@treespec/generator';
import { type CallLog, checkGraph, loggedSession } from '@treespec/onnx';
import { assemble, type BundleOptions, plan } from '@treespec/planner';
import { loadTokenizer } from '@treespec/tokenizers';
import {
  checkBundleTokenizer,
  modelFiles,
  readBundleManifest,
  resolveBundleFiles,
  verifyChecksums,
} from './bundle-files.js';
import { createSession, type NodeSessionOptions } from './session.js';
import { readTokenizerFiles } from './tokenizer-files.js';
import { storedSeeds } from './tuning-cache.js';

/** Options of {@link loadTreespec}: which drafter and tree, and how sessions run. */
export interface LoadTreespecOptions extends BundleOptions, NodeSessionOptions {
  /**
   * Hash every model file and compare with the checksums recorded at conversion (reads all
   * weights); a model file the checksum listing leaves out is refused. Default false.
   */
  verifyWeights?: boolean;
  /**
   * The tuning cache that seeds the budget controller unless `controllerSeeds` is given: a file
   * path, or false to start unseeded. Default: the OS cache directory's (`treespec tune` writes it).
   */
  tuningCache?: string | false;
  /**
   * A Jinja chat template to use in place of the tokenizer config's, e.g. for a base model whose
   * config has none (chats then render with it).
   */
  chatTemplate?: string;
  /**
   * Records every model call of the generations (not the load's warm-up) in this log: which model,
   * how many rows, how long (`summarizeCalls` groups them). A diagnostic of what a step costs on
   * this machine, as the page's `logCalls`.
   */
  callLog?: CallLog;
}

/**
 * Loads a treespec bundle (a folder holding the `treespec.json` manifest, the .onnx files and the
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
  const { file: manifestFile, text, manifest } = await readBundleManifest(directory);
  await resolveBundleFiles(directory, manifest, manifestFile);
  await checkBundleTokenizer(directory, manifest);
  if (options.verifyWeights) await verifyChecksums(directory, modelFiles(manifest));
  const device = options.executionProvider ?? 'cpu';
  const warn = options.onWarning ?? console.warn;
  const controllerSeeds =
    options.controllerSeeds ??
    (await storedSeeds(text, device, options.tuningCache, options.intraOpNumThreads, warn));
  const planned = plan(manifest, { ...options, controllerSeeds }, device, manifestFile);
  for (const warning of planned.warnings) warn(warning);
  const tokenizer = await loadTokenizer(
    await readTokenizerFiles(directory),
    options.chatTemplate !== undefined ? { chatTemplate: options.chatTemplate } : {},
  );
  const { callLog } = options;
  const generator = await assemble(
    planned,
    async (model, outputs, unread) => {
      const file = join(directory, model.file);
      const role = model.role === 'target' ? 'target' : 'drafter';
      const opened = await createSession(file, options, role, outputs, unread);
      let session: typeof opened;
      try {
        session = checkGraph(opened, model, file, unread);
      } catch (error) {
        await opened.release();
        throw error;
      }
      return callLog ? loggedSession(session, role, model.inputs.inputIds, callLog) : session;
    },
    tokenizer,
    (graph, outputs) => createSession(graph, options, 'drafter', outputs),
  );
  callLog?.reset();
  return generator;
}
