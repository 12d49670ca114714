import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OptionError, TOKENIZER_FILE_NAMES } from '@treespec/core';
import type { TokenizerInfo } from '@treespec/onnx';
import { ChatTemplate } from '@treespec/tokenizers';
import type { DecoderConfig } from './config.js';
import { CheckpointError } from './errors.js';
import { PARTIAL } from './model-file.js';

/**
 * Tokenizer files copied next to the models when the checkpoint has them (tokenizer.json first, and
 * required): every file of core's `TOKENIZER_FILE_NAMES`, the chat template's own file included.
 */
export const TOKENIZER_FILES: readonly string[] = Object.values(TOKENIZER_FILE_NAMES);

/**
 * Checks that `template` is a Jinja chat template that renders a one-message chat, before a
 * conversion writes anything.
 * @throws OptionError `chatTemplate` with the template's error when it does not.
 */
export function checkChatTemplate(template: string): void {
  try {
    new ChatTemplate(template).render([{ role: 'user', content: 'Hello.' }]);
  } catch (error) {
    throw new OptionError(
      'chatTemplate',
      template.length > 60 ? `${template.slice(0, 57)}…` : template,
      `a Jinja chat template that renders a one-message chat (${(error as Error).message})`,
    );
  }
}

/** A checkpoint's tokenizer files, read and checked, to be written into the bundle. */
export interface StagedTokenizer {
  /** The manifest's description of them. */
  readonly info: TokenizerInfo;
  /**
   * Writes them into the output folder, over the files of the same names there: each is written
   * under a temporary name, and all take their names once all are written.
   */
  write(): Promise<void>;
}

/**
 * Reads the tokenizer files of `checkpointDir` for `outDir` and describes them for the manifest:
 * the files, the sha256 of tokenizer.json, and the special token ids of the config merged with
 * generation_config.json (its eos ids are added to the config's). A `chatTemplate` (checked with
 * {@link checkChatTemplate}) becomes the bundle's chat_template.jinja, over any template file the
 * checkpoint has; tokenizers prefer that file to the config's template. Nothing is written until
 * `write`, which a conversion calls once its model is written, so that a failed conversion leaves
 * a bundle's tokenizer files as they were.
 * @throws CheckpointError `missing-file` when tokenizer.json is absent, `mismatch` when `outDir`
 *   already holds a different tokenizer.json (models sharing a directory share one tokenizer).
 */
export async function stageTokenizerFiles(
  checkpointDir: string,
  outDir: string,
  config: DecoderConfig,
  chatTemplate?: string,
): Promise<StagedTokenizer> {
  const source = join(checkpointDir, 'tokenizer.json');
  const tokenizer = await readOptional(source);
  if (!tokenizer) {
    throw new CheckpointError(
      'missing-file',
      source,
      'tokenizer.json is missing; it is required next to config.json',
    );
  }
  const sha256 = createHash('sha256').update(tokenizer).digest('hex');
  const existing = await readOptional(join(outDir, 'tokenizer.json'));
  if (existing) {
    const have = createHash('sha256').update(existing).digest('hex');
    if (have !== sha256) {
      throw new CheckpointError(
        'mismatch',
        source,
        `tokenizer.json (sha256 ${sha256}) differs from ${join(outDir, 'tokenizer.json')} (sha256 ${have}) already in ` +
          'the output directory; models in one directory must share a tokenizer',
      );
    }
  }
  const contents = new Map<string, Buffer | string>();
  let generation: Record<string, unknown> = {};
  for (const name of TOKENIZER_FILES) {
    const bytes = await readOptional(join(checkpointDir, name));
    if (!bytes) continue;
    contents.set(name, bytes);
    if (name === 'generation_config.json') generation = parseJson(bytes, join(checkpointDir, name));
  }
  if (chatTemplate !== undefined) contents.set(TOKENIZER_FILE_NAMES.chatTemplate, chatTemplate);
  const ids = (v: unknown): number[] =>
    Array.isArray(v)
      ? v.filter((x): x is number => Number.isInteger(x))
      : Number.isInteger(v)
        ? [v as number]
        : [];
  const eos = [...new Set([...config.eosTokenIds, ...ids(generation.eos_token_id)])];
  const bos = ids(generation.bos_token_id)[0] ?? config.bosTokenId;
  const pad = ids(generation.pad_token_id)[0] ?? config.padTokenId;
  return {
    info: {
      files: [...contents.keys()],
      sha256,
      bosTokenId: bos ?? null,
      eosTokenIds: eos,
      padTokenId: pad ?? null,
    },
    write: async () => {
      // Every file complete under a temporary name before any takes its own.
      for (const [name, content] of contents) await writeFile(join(outDir, name + PARTIAL), content);
      for (const name of contents.keys()) await rename(join(outDir, name + PARTIAL), join(outDir, name));
    },
  };
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new CheckpointError('unreadable', path, `cannot read: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function parseJson(bytes: Buffer, file: string): Record<string, unknown> {
  try {
    return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new CheckpointError('bad-config', file, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}
