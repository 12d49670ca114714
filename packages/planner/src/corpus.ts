import { OptionError } from '@treespec/core';
import type { BundleOptions } from './plan.js';

/**
 * The most a load's corpus may hold, all documents together: characters of text, or token ids.
 * Indexing it (tokenizing, then building the suffix automaton) takes about 2 s and 50 MB of memory
 * per million characters of English on the project's reference CPU, tokenizing most of it, so the
 * limit keeps a load within about a minute and a half and 2 GB; a file beyond it is rarely the text
 * a generation quotes (a log, an archive, a binary).
 */
export const MAX_CORPUS_LENGTH = 32 * 1024 * 1024;

/**
 * What makes `text` no corpus document, or null: a NUL character, which UTF-8 text never holds
 * and binary files (and UTF-16 text read as UTF-8) nearly always do.
 */
export function corpusTextProblem(text: string): string | null {
  const nul = text.indexOf('\0');
  return nul < 0 ? null : `has a NUL character at character ${nul} (a binary file, or text in UTF-16?)`;
}

/**
 * The `corpus` option checked: text documents without NUL characters, at most
 * {@link MAX_CORPUS_LENGTH} characters or token ids in all.
 * @throws OptionError naming the document (`corpus[i]`) or the whole corpus.
 */
export function checkedCorpus(corpus: BundleOptions['corpus']): BundleOptions['corpus'] {
  if (corpus == null) return undefined;
  let total = 0;
  for (const [i, document] of corpus.entries()) {
    total += document.length;
    const problem = typeof document === 'string' ? corpusTextProblem(document) : null;
    if (problem !== null) throw new OptionError(`corpus[${i}]`, `a document that ${problem}`, 'text');
  }
  if (total > MAX_CORPUS_LENGTH) {
    throw new OptionError(
      'corpus',
      `${corpus.length} documents of ${total} in all`,
      `at most ${MAX_CORPUS_LENGTH} characters or token ids in all`,
    );
  }
  return corpus;
}
