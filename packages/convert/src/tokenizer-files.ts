import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OptionError, TOKENIZER_FILE_NAMES } from '@treespec/core';
import type { TokenizerInfo } from '@treespec/onnx';
import { ChatTemplate } from '@treespec/tokenizers';
import type { DecoderConfig } from './config.js';
import { CheckpointError } from './errors.js';
import { pathExists } from './path-exists.js';
import type { StagedFiles } from './staged-files.js';

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
   * Stages them for the output folder, over the files of the same names there (those the bundle
   * keeps aside), to take their names when `staged` commits.
   */
  stage(staged: StagedFiles): Promise<void>;
}

/**
 * Reads the tokenizer files of `checkpointDir` for `outDir` and describes them for the manifest:
 * the files, the sha256 of tokenizer.json, and the special token ids of the config merged with
 * generation_config.json (its eos ids are added to the config's). A `chatTemplate` (checked with
 * {@link checkChatTemplate}) becomes the bundle's chat_template.jinja, over any template file the
 * checkpoint has; tokenizers prefer that file to the config's template. Nothing is written until
 * `stage`, whose files take their names with the model's, so that a failed conversion leaves a
 * bundle's tokenizer files as they were. A draft LM's checkpoint (`owner` false) shares the
 * target's tokenizer.json but may differ in the rest (a base draft for an instruct target: no chat
 * template, other end-of-sequence ids): it adds only the files the bundle lacks, and the bundle's
 * stay the target's. The JSON files must parse, and tokenizer.json's ids must lie within the
 * model's vocabulary.
 * @throws CheckpointError `missing-file` when tokenizer.json is absent, `mismatch` when `outDir`
 *   already holds a different tokenizer.json (models sharing a directory share one tokenizer) or
 *   the tokenizer defines ids past the vocabulary, `bad-config` when a JSON file does not parse.
 */
export async function stageTokenizerFiles(
  checkpointDir: string,
  outDir: string,
  config: DecoderConfig,
  chatTemplate?: string,
  owner = true,
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
  checkTokenizerIds(parseJson(tokenizer, source), source, config.vocab);
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
  /** Every tokenizer file the bundle holds after the conversion (some of them maybe the bundle's own). */
  const present: string[] = [];
  let generation: Record<string, unknown> = {};
  for (const name of TOKENIZER_FILES) {
    const file = join(checkpointDir, name);
    const bytes = await readOptional(file);
    if (!bytes) continue;
    const json = name.endsWith('.json') && name !== 'tokenizer.json' ? parseJson(bytes, file) : null;
    if (name === 'generation_config.json' && json) generation = json;
    present.push(name);
    if (!owner && existing && (await pathExists(join(outDir, name)))) continue;
    contents.set(name, bytes);
  }
  if (chatTemplate !== undefined) {
    contents.set(TOKENIZER_FILE_NAMES.chatTemplate, chatTemplate);
    if (!present.includes(TOKENIZER_FILE_NAMES.chatTemplate)) present.push(TOKENIZER_FILE_NAMES.chatTemplate);
  }
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
      files: present,
      sha256,
      bosTokenId: bos ?? null,
      eosTokenIds: eos,
      padTokenId: pad ?? null,
    },
    stage: async (staged) => {
      for (const [name, content] of contents) await staged.write(join(outDir, name), content);
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

/**
 * Checks that every id tokenizer.json defines (its model's vocabulary and its added tokens) lies
 * below the model's `vocab`: a tokenizer of another model would encode ids the model has no row
 * for, which a load only finds at the first prompt.
 */
function checkTokenizerIds(json: Record<string, unknown>, file: string, vocab: number): void {
  const model = json['model'] as { vocab?: unknown } | undefined;
  if (typeof model !== 'object' || model === null) {
    throw new CheckpointError(
      'bad-config',
      file,
      'is not a Hugging Face tokenizer.json: expected a "model" object',
    );
  }
  // A list vocabulary (Unigram) numbers its pieces in order; a map one (BPE, WordPiece) names each id.
  let top = Array.isArray(model.vocab) ? model.vocab.length - 1 : -1;
  const named = Array.isArray(model.vocab)
    ? []
    : Object.values((model.vocab ?? {}) as Record<string, unknown>);
  const added = Array.isArray(json['added_tokens']) ? json['added_tokens'] : [];
  for (const id of [...named, ...added.map((token) => (token as { id?: unknown }).id)]) {
    if (typeof id === 'number' && id > top) top = id;
  }
  if (top >= vocab) {
    throw new CheckpointError(
      'mismatch',
      file,
      `defines token id ${top}, but the model's vocabulary (config.json vocab_size) holds ${vocab} ids; ` +
        'expected the tokenizer of this model',
    );
  }
}

function parseJson(bytes: Buffer, file: string): Record<string, unknown> {
  try {
    return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new CheckpointError('bad-config', file, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}
