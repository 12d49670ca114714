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

/** Where the optional files sit next to `tokenizer.json`. */
const SIBLINGS = {
  config: 'tokenizer_config.json',
  generationConfig: 'generation_config.json',
  specialTokensMap: 'special_tokens_map.json',
  chatTemplate: 'chat_template.jinja',
} as const;

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
    optional(files.generationConfig, 'generation_config.json (in memory)'),
    optional(files.specialTokensMap, 'special_tokens_map.json (in memory)'),
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
 * `.json`) or a folder; the optional files are looked for next to it, and a 404 means "absent".
 */
export async function resolveUrl(url: URL, options: FetchFilesOptions = {}): Promise<ResolvedFiles> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') {
    throw new TokenizerError('no fetch() in this runtime; pass options.fetch to load over HTTP', {
      file: url.href,
    });
  }
  const isFile = url.pathname.endsWith('.json');
  const base = isFile ? new URL('.', url) : new URL(url.href.endsWith('/') ? url.href : `${url.href}/`);
  const tokenizerUrl = isFile ? url : new URL('tokenizer.json', base);

  const get = async (target: URL, required: boolean): Promise<string | null> => {
    let response: Response;
    try {
      response = await fetchImpl(target.href, { signal: options.signal });
    } catch (cause) {
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
    config: new URL(SIBLINGS.config, base),
    generationConfig: new URL(SIBLINGS.generationConfig, base),
    specialTokensMap: new URL(SIBLINGS.specialTokensMap, base),
    chatTemplate: new URL(SIBLINGS.chatTemplate, base),
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

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

/**
 * Imports a Node built-in only when a file path is actually loaded, with a specifier bundlers
 * leave alone, so that browser builds of this package never pull in `node:*`.
 */
async function importNodeBuiltin<T>(specifier: string): Promise<T> {
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as T;
}

/** True when running under Node (or a runtime that provides its `process.versions.node`). */
export function isNodeRuntime(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: unknown } } }).process;
  return typeof proc?.versions?.node === 'string';
}

/** Converts a `file:` URL to a path (Node only). */
export async function fileUrlToPath(url: URL): Promise<string> {
  const { fileURLToPath } = await importNodeBuiltin<typeof import('node:url')>('node:url');
  return fileURLToPath(url);
}

/**
 * Reads a tokenizer from the file system (Node only). `path` is a `tokenizer.json` file or a
 * folder holding one; the optional files are read from the same folder when present.
 */
export async function resolvePath(path: string): Promise<ResolvedFiles> {
  if (!isNodeRuntime()) {
    throw new TokenizerError('reading a file path needs Node; in a browser pass a URL, a Blob or the JSON', {
      file: path,
    });
  }
  const fs = await importNodeBuiltin<FsPromises>('node:fs/promises');
  const paths = await importNodeBuiltin<PathModule>('node:path');

  let isDirectory: boolean;
  try {
    isDirectory = (await fs.stat(path)).isDirectory();
  } catch (cause) {
    throw new TokenizerError(
      `not found (${(cause as { code?: string }).code ?? (cause as Error).message}); expected a ` +
        'tokenizer.json file or a folder holding one',
      { file: path, cause },
    );
  }
  const dir = isDirectory ? path : paths.dirname(path);
  const tokenizerPath = isDirectory ? paths.join(path, 'tokenizer.json') : path;
  const where = {
    config: paths.join(dir, SIBLINGS.config),
    generationConfig: paths.join(dir, SIBLINGS.generationConfig),
    specialTokensMap: paths.join(dir, SIBLINGS.specialTokensMap),
    chatTemplate: paths.join(dir, SIBLINGS.chatTemplate),
  };

  const read = async (file: string, required: boolean): Promise<string | null> => {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === 'ENOENT' && !required) return null;
      throw new TokenizerError(
        code === 'ENOENT'
          ? `missing: expected a Hugging Face tokenizer.json${isDirectory ? ` in ${path}` : ''}`
          : `could not be read: ${(cause as Error).message}`,
        { file, cause },
      );
    }
  };

  const [tokenizerText, configText, generationText, specialText, chatTemplate] = await Promise.all([
    read(tokenizerPath, true),
    read(where.config, false),
    read(where.generationConfig, false),
    read(where.specialTokensMap, false),
    read(where.chatTemplate, false),
  ]);
  return {
    tokenizer: parseJsonObject(tokenizerText as string, tokenizerPath),
    tokenizerName: tokenizerPath,
    config: configText === null ? null : parseJsonObject(configText, where.config),
    configName: where.config,
    generationConfig:
      generationText === null ? null : parseJsonObject(generationText, where.generationConfig),
    specialTokensMap: specialText === null ? null : parseJsonObject(specialText, where.specialTokensMap),
    chatTemplate,
    chatTemplateName: where.chatTemplate,
  };
}
