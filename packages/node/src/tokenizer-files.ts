import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TOKENIZER_FILE_NAMES, type TokenizerPart } from '@treespec/core';
import { TokenizerError, type TokenizerFiles } from '@treespec/tokenizers';

/**
 * Reads a Hugging Face tokenizer from disk for `loadTokenizer`: `path` is a `tokenizer.json` or the
 * folder holding it, and the companion files of core's `TOKENIZER_FILE_NAMES` are read from the
 * same folder when present. Each file comes back as a `File` named by its path, so the
 * tokenizer's errors name the file.
 *
 * ```ts
 * const tokenizer = await loadTokenizer(await readTokenizerFiles('./models/my-model'));
 * ```
 *
 * @throws TokenizerError naming the path when it or its tokenizer.json is missing or unreadable.
 */
export async function readTokenizerFiles(path: string): Promise<TokenizerFiles> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (cause) {
    throw new TokenizerError(
      `not found (${(cause as { code?: string }).code ?? (cause as Error).message}); expected a ` +
        'tokenizer.json file or a folder holding one',
      { file: path, cause },
    );
  }
  const folder = isDirectory ? path : dirname(path);
  const read = async (part: TokenizerPart): Promise<[TokenizerPart, File] | null> => {
    const file = part === 'tokenizer' && !isDirectory ? path : join(folder, TOKENIZER_FILE_NAMES[part]);
    try {
      return [part, new File([await readFile(file, 'utf8')], file)];
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      if (code === 'ENOENT' && part !== 'tokenizer') return null;
      throw new TokenizerError(
        code === 'ENOENT'
          ? `missing: expected a Hugging Face tokenizer.json${isDirectory ? ` in ${path}` : ''}`
          : `could not be read: ${(cause as Error).message}`,
        { file, cause },
      );
    }
  };
  const parts = Object.keys(TOKENIZER_FILE_NAMES) as TokenizerPart[];
  const found = (await Promise.all(parts.map(read))).filter((entry) => entry !== null);
  return Object.fromEntries(found) as unknown as TokenizerFiles;
}
