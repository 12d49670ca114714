import { TokenizerError } from './errors.js';
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
import {
  isBlob,
  type ResolvedFiles,
  resolveInMemory,
  resolveUrl,
  type TokenizerFiles,
} from './tokenizer-files.js';

/**
 * Where a tokenizer comes from (this package reads no file system; in Node, `@treespec/node`'s
 * `readTokenizerFiles(path)` reads a folder into {@link TokenizerFiles}):
 * - a string: an `http(s):` URL, or in a browser a URL relative to the page;
 * - a `URL` (`http(s):`);
 * - a `Blob` (or `File`) holding `tokenizer.json`;
 * - the parsed `tokenizer.json` object;
 * - {@link TokenizerFiles}: `tokenizer.json` with its companion files, each as an object, JSON
 *   text or a Blob.
 *
 * From a URL, `tokenizer_config.json`, `generation_config.json`, `special_tokens_map.json` and
 * `chat_template.jinja` (core's `TOKENIZER_FILE_NAMES`) are fetched from the same folder when
 * present.
 */
export type TokenizerSource = string | URL | Blob | TokenizerFiles | Record<string, unknown>;

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions extends HfTokenizerOptions {
  /** The fetch used for URLs. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Cancels fetching. */
  signal?: AbortSignal;
}

/**
 * Loads a Hugging Face tokenizer. Resolves to an {@link HfTokenizer}, which implements core's
 * `Tokenizer`; rejects with a `TokenizerError` naming the file when a file is missing or
 * malformed.
 *
 * ```ts
 * const tokenizer = await loadTokenizer('https://models.example/treespec-tiny/');
 * tokenizer.encode('Hello world!'); // Int32Array [1, 4211, 442, 1744, 3]
 * ```
 */
export async function loadTokenizer(
  source: TokenizerSource,
  options: LoadTokenizerOptions = {},
): Promise<HfTokenizer> {
  const files = await resolveSource(source, options);
  return new HfTokenizer(files, options);
}

async function resolveSource(source: TokenizerSource, options: LoadTokenizerOptions): Promise<ResolvedFiles> {
  if (typeof source === 'string' || source instanceof URL) return resolveUrl(httpUrl(source), options);
  if (isBlob(source)) return resolveInMemory({ tokenizer: source });
  if (source !== null && typeof source === 'object') {
    if ('tokenizer' in source && !('model' in source)) return resolveInMemory(source as TokenizerFiles);
    return resolveInMemory({ tokenizer: source as Record<string, unknown> });
  }
  throw new TokenizerError(
    `cannot load a tokenizer from ${source === null ? 'null' : typeof source}: expected a URL, ` +
      'a Blob, a tokenizer.json object or { tokenizer, config }',
  );
}

/** An `http(s):` URL from a URL or a string (relative strings resolve against the page). */
function httpUrl(source: string | URL): URL {
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL | null = null;
  try {
    url = new URL(source, base);
  } catch {
    url = null;
  }
  if (url && /^https?:$/.test(url.protocol)) return url;
  throw new TokenizerError(
    'is not an http(s) URL; to read tokenizer files from disk, pass `readTokenizerFiles(path)` of ' +
      '@treespec/node (or the files themselves)',
    { file: String(source) },
  );
}
