import { TokenizerError } from './errors.js';
import { HfTokenizer, type HfTokenizerOptions } from './hf-tokenizer.js';
import {
  fileUrlToPath,
  isBlob,
  isNodeRuntime,
  type ResolvedFiles,
  resolveInMemory,
  resolvePath,
  resolveUrl,
  type TokenizerFiles,
} from './tokenizer-files.js';

/**
 * Where a tokenizer comes from:
 * - a string: an `http(s):` or `file:` URL, or (in Node) a path to a `tokenizer.json` or to the
 *   folder holding it; in a browser, a relative string is a URL relative to the page;
 * - a `URL`;
 * - a `Blob` (or `File`) holding `tokenizer.json`;
 * - the parsed `tokenizer.json` object;
 * - {@link TokenizerFiles}: `tokenizer.json` with its companion files, each as an object, JSON
 *   text or a Blob.
 *
 * From a path or URL, `tokenizer_config.json`, `generation_config.json`,
 * `special_tokens_map.json` and `chat_template.jinja` are read from the same folder when
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
 * const tokenizer = await loadTokenizer('./checkpoints/treespec-tiny');
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
  if (typeof source === 'string') {
    if (/^https?:\/\//i.test(source)) return resolveUrl(new URL(source), options);
    if (/^file:\/\//i.test(source)) return resolvePath(await fileUrlToPath(new URL(source)));
    if (isNodeRuntime()) return resolvePath(source);
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    if (!base) {
      throw new TokenizerError('is neither a URL nor a readable path in this runtime', { file: source });
    }
    return resolveUrl(new URL(source, base), options);
  }
  if (source instanceof URL) {
    if (source.protocol === 'file:') return resolvePath(await fileUrlToPath(source));
    return resolveUrl(source, options);
  }
  if (isBlob(source)) return resolveInMemory({ tokenizer: source });
  if (source !== null && typeof source === 'object') {
    if ('tokenizer' in source && !('model' in source)) return resolveInMemory(source as TokenizerFiles);
    return resolveInMemory({ tokenizer: source as Record<string, unknown> });
  }
  throw new TokenizerError(
    `cannot load a tokenizer from ${source === null ? 'null' : typeof source}: expected a path, a URL, ` +
      'a Blob, a tokenizer.json object or { tokenizer, config }',
  );
}
