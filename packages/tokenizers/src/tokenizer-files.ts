import { AbortError, TOKENIZER_FILE_NAMES as NAMES } from '@treespec/core';
import { TokenizerError } from './errors.js';

/** A JSON file given as parsed JSON, as JSON text, or as a Blob holding JSON text. */
export type JsonInput = Record<string, unknown> | string | Blob;

/**
 * The files of a Hugging Face tokenizer, already in memory. Only `tokenizer` is required; the
 * others add special tokens, EOS ids and the chat template, as they do in `transformers`.
 */
export interface TokenizerFiles {
  /** `tokenizer.json`. */
  tokenizer: JsonInput;
  /** `tokenizer_config.json`: special tokens, `chat_template`, `clean_up_tokenization_spaces`. */
  config?: JsonInput | null;
  /** `generation_config.json`: `eos_token_id` (a number or a list) adds EOS ids. */
  generationConfig?: JsonInput | null;
  /** `special_tokens_map.json`: special tokens the config does not name. */
  specialTokensMap?: JsonInput | null;
  /** `chat_template.jinja`: the chat template, where a model keeps it in its own file. */
  chatTemplate?: string | Blob | null;
}

/** The parsed files, each with the name used in error messages. */
export interface ResolvedFiles {
  tokenizer: Record<string, unknown>;
  tokenizerName: string;
  config: Record<string, unknown> | null;
  configName: string;
  generationConfig: Record<string, unknown> | null;
  specialTokensMap: Record<string, unknown> | null;
  chatTemplate: string | null;
  chatTemplateName: string;
}

/** Parses JSON text, naming the file when it is malformed or not an object. */
export function parseJsonObject(text: string, file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TokenizerError(`malformed JSON: ${(cause as Error).message}`, { file, cause });
  }
  return requireObject(value, file);
}

function requireObject(value: unknown, file: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenizerError(
      `expected a JSON object, found ${Array.isArray(value) ? 'an array' : String(value)}`,
      { file },
    );
  }
  return value as Record<string, unknown>;
}

async function jsonFrom(input: JsonInput, file: string): Promise<Record<string, unknown>> {
  if (typeof input === 'string') return parseJsonObject(input, file);
  if (isBlob(input)) return parseJsonObject(await input.text(), file);
  return requireObject(input, file);
}

/** True for a Blob (or File) from any realm. */
export function isBlob(value: unknown): value is Blob {
  return (
    typeof Blob !== 'undefined' &&
    (value instanceof Blob ||
      (typeof value === 'object' &&
        value !== null &&
        typeof (value as Blob).text === 'function' &&
        typeof (value as Blob).arrayBuffer === 'function' &&
        typeof (value as Blob).size === 'number'))
  );
}

function blobName(blob: Blob, fallback: string): string {
  const name = (blob as { name?: unknown }).name;
  return typeof name === 'string' && name.length > 0 ? name : fallback;
}

function nameOf(input: JsonInput | null | undefined, file: string): string {
  return input && isBlob(input) ? blobName(input, `${file} (Blob)`) : `${file} (in memory)`;
}

/** Resolves files given in memory. */
export async function resolveInMemory(files: TokenizerFiles): Promise<ResolvedFiles> {
  const tokenizerName = isBlob(files.tokenizer)
    ? blobName(files.tokenizer, 'tokenizer.json (Blob)')
    : 'tokenizer.json (in memory)';
  const configName =
    files.config && isBlob(files.config)
      ? blobName(files.config, 'tokenizer_config.json (Blob)')
      : 'tokenizer_config.json (in memory)';
  const chatTemplateName =
    files.chatTemplate && isBlob(files.chatTemplate)
      ? blobName(files.chatTemplate, 'chat_template.jinja (Blob)')
      : 'chat_template.jinja (in memory)';
  const optional = (input: JsonInput | null | undefined, name: string) =>
    input == null ? Promise.resolve(null) : jsonFrom(input, name);
  const [tokenizer, config, generationConfig, specialTokensMap] = await Promise.all([
    jsonFrom(files.tokenizer, tokenizerName),
    optional(files.config, configName),
    optional(files.generationConfig, nameOf(files.generationConfig, NAMES.generationConfig)),
    optional(files.specialTokensMap, nameOf(files.specialTokensMap, NAMES.specialTokensMap)),
  ]);
  let chatTemplate: string | null = null;
  if (files.chatTemplate != null) {
    chatTemplate =
      typeof files.chatTemplate === 'string' ? files.chatTemplate : await files.chatTemplate.text();
  }
  return {
    tokenizer,
    tokenizerName,
    config,
    configName: files.config == null ? 'tokenizer_config.json' : configName,
    generationConfig,
    specialTokensMap,
    chatTemplate,
    chatTemplateName: files.chatTemplate == null ? 'chat_template.jinja' : chatTemplateName,
  };
}

/** Options for reading files over the network. */
export interface FetchFilesOptions {
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
}

/**
 * Reads a tokenizer over HTTP(S). `url` is either a `tokenizer.json` (any URL whose path ends in
 * `.json`) or a folder, whose query (`…/resolve/main?download=true`) every file's URL keeps; the
 * optional files are looked for next to it, and a 404 means "absent". An aborted `signal` rejects
 * with core's `AbortError`.
 */
export async function resolveUrl(url: URL, options: FetchFilesOptions = {}): Promise<ResolvedFiles> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') {
    throw new TokenizerError('no fetch() in this runtime; pass options.fetch to load over HTTP', {
      file: url.href,
    });
  }
  const isFile = url.pathname.endsWith('.json');
  const folder = new URL(isFile ? '.' : url.href, url);
  if (!isFile && !folder.pathname.endsWith('/')) folder.pathname = `${folder.pathname}/`;
  folder.hash = '';
  const fileAt = (name: string): URL => {
    const file = new URL(name, folder);
    if (!isFile) file.search = url.search;
    return file;
  };
  const tokenizerUrl = isFile ? url : fileAt(NAMES.tokenizer);

  const get = async (target: URL, required: boolean): Promise<string | null> => {
    let response: Response;
    try {
      response = await fetchImpl(target.href, { signal: options.signal });
    } catch (cause) {
      if (options.signal?.aborted)
        throw new AbortError(`loading the tokenizer at ${target.href} was aborted`);
      throw new TokenizerError(`could not be fetched: ${(cause as Error).message}`, {
        file: target.href,
        cause,
      });
    }
    if (response.status === 404 && !required) return null;
    if (!response.ok) {
      throw new TokenizerError(
        `could not be fetched: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}` +
          (required ? '; expected a tokenizer.json at this URL (or a folder URL holding one)' : ''),
        { file: target.href },
      );
    }
    return response.text();
  };

  const urls = {
    config: fileAt(NAMES.config),
    generationConfig: fileAt(NAMES.generationConfig),
    specialTokensMap: fileAt(NAMES.specialTokensMap),
    chatTemplate: fileAt(NAMES.chatTemplate),
  };
  const [tokenizerText, configText, generationText, specialText, chatTemplate] = await Promise.all([
    get(tokenizerUrl, true),
    get(urls.config, false),
    get(urls.generationConfig, false),
    get(urls.specialTokensMap, false),
    get(urls.chatTemplate, false),
  ]);
  return {
    tokenizer: parseJsonObject(tokenizerText as string, tokenizerUrl.href),
    tokenizerName: tokenizerUrl.href,
    config: configText === null ? null : parseJsonObject(configText, urls.config.href),
    configName: urls.config.href,
    generationConfig:
      generationText === null ? null : parseJsonObject(generationText, urls.generationConfig.href),
    specialTokensMap: specialText === null ? null : parseJsonObject(specialText, urls.specialTokensMap.href),
    chatTemplate,
    chatTemplateName: urls.chatTemplate.href,
  };
}
