import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { OptionError, requireInteger } from '@treespec/core';
import type { DraftVocabulary } from '@treespec/onnx';
import { loadTokenizer } from '@treespec/tokenizers';
import type { DraftVocabularyMap } from './draft-vocabulary.js';
import { CheckpointError } from './errors.js';

/** Value of the `format` field of a token-frequency file. */
export const TOKEN_FREQUENCIES_FORMAT = 'treespec-token-frequencies';

/**
 * Token counts of a corpus under one tokenizer, as a file (JSON): what `--draft-vocab-corpus`
 * reads besides plain text, e.g. counts of text the target generated.
 */
export interface TokenFrequencies {
  readonly format: typeof TOKEN_FREQUENCIES_FORMAT;
  /** Hex sha256 of the tokenizer.json the counts were made with. */
  readonly tokenizerSha256: string;
  /** Where the tokens came from, for people. */
  readonly source: string;
  /** Tokens counted. */
  readonly tokens: number;
  /** Count of each token id; its length is the vocabulary size. */
  readonly counts: readonly number[];
}

/** FR-Spec options of a conversion: keep the `size` most frequent target tokens of `corpus`. */
export interface FrequencyVocabularyOptions {
  /** Draft vocabulary size K (at most the target's vocabulary). */
  readonly size: number;
  /** A UTF-8 text file (tokenized with the target's tokenizer) or a {@link TokenFrequencies} JSON file. */
  readonly corpus: string;
  /**
   * EAGLE-1/2 heads: beside the K frequent tokens, also score up to this many tokens of the
   * generation's own context (its prompt and output) outside them, picked per call; absent or 0:
   * none. Copied names and identifiers are rare in any corpus and common in the text at hand.
   */
  readonly contextTokens?: number;
}

/** A draft vocabulary chosen by frequency, with what the manifest records about it. */
export interface FrequencyVocabulary {
  readonly map: DraftVocabularyMap;
  readonly manifest: DraftVocabulary;
}

/** Writes {@link TokenFrequencies} as JSON. */
export async function writeTokenFrequencies(path: string, frequencies: TokenFrequencies): Promise<void> {
  await writeFile(path, `${JSON.stringify(frequencies)}\n`);
}

/**
 * Counts the corpus under the target's tokenizer (`tokenizerDir/tokenizer.json`) and keeps the
 * `size` most frequent token ids (ties to the lower id), in ascending id order as EAGLE-3's `d2t`.
 * @throws OptionError when `size` is not in [1, vocab] or the corpus holds no tokens;
 * CheckpointError `mismatch` when a frequency file was made with another tokenizer or vocabulary,
 * `bad-header` when a `.json` corpus (or a JSON object naming a `format`) is not a valid
 * token-frequency file.
 */
export async function frequencyVocabulary(
  options: FrequencyVocabularyOptions,
  tokenizerDir: string,
  vocab: number,
): Promise<FrequencyVocabulary> {
  const size = requireInteger('draftVocab', options.size, 1, vocab, "the target's vocabulary");
  const contextTokens = requireInteger(
    'draftVocabContext',
    options.contextTokens ?? 0,
    0,
    vocab - size,
    `the target's tokens outside the ${size} draft tokens`,
  );
  const { counts, tokens } = await countCorpus(options.corpus, tokenizerDir, vocab);
  if (tokens === 0) throw new OptionError('draftVocabCorpus', options.corpus, 'a corpus holding text');
  const order = Array.from({ length: vocab }, (_, id) => id).sort((a, b) => counts[b]! - counts[a]! || a - b);
  const kept = order.slice(0, size).sort((a, b) => a - b);
  let covered = 0;
  for (const id of kept) covered += counts[id]!;
  return {
    map: { targetIds: Int32Array.from(kept), contextTokens },
    manifest: {
      size,
      source: 'frequency',
      corpus: { file: basename(options.corpus), tokens },
      coverage: Math.round((covered / tokens) * 1e4) / 1e4,
      targetIds: kept,
      ...(contextTokens > 0 ? { contextTokens } : {}),
    },
  };
}

async function countCorpus(
  path: string,
  tokenizerDir: string,
  vocab: number,
): Promise<{ counts: Float64Array; tokens: number }> {
  const tokenizerPath = join(tokenizerDir, 'tokenizer.json');
  const text = await readFile(path, 'utf8').catch((cause: Error) => {
    throw new OptionError('draftVocabCorpus', path, `a readable file (${cause.message})`);
  });
  const frequencies = parseFrequencies(text, path);
  if (frequencies) {
    const sha256 = createHash('sha256')
      .update(await readFile(tokenizerPath))
      .digest('hex');
    if (frequencies.tokenizerSha256 !== sha256) {
      throw new CheckpointError(
        'mismatch',
        path,
        `the token frequencies were counted with tokenizer.json sha256 ${frequencies.tokenizerSha256} but the target's (${tokenizerPath}) is ${sha256}`,
      );
    }
    if (frequencies.counts.length !== vocab) {
      throw new CheckpointError(
        'mismatch',
        path,
        `the token frequencies cover ${frequencies.counts.length} token ids but the target's vocabulary has ${vocab}`,
      );
    }
    return { counts: Float64Array.from(frequencies.counts), tokens: frequencies.tokens };
  }
  // Counting needs the vocabulary and its merges only: tokenizer.json alone, no special tokens.
  const tokenizer = await loadTokenizer({
    tokenizer: new File([await readFile(tokenizerPath, 'utf8')], tokenizerPath),
  });
  const counts = new Float64Array(vocab);
  let tokens = 0;
  for (const chunk of text.split(/(?<=\n\n)/)) {
    for (const id of tokenizer.encode(chunk, { addSpecialTokens: false })) {
      if (id >= vocab) {
        throw new CheckpointError(
          'mismatch',
          tokenizerPath,
          `the tokenizer produced token id ${id}, outside the target's vocabulary of ${vocab}`,
        );
      }
      counts[id]!++;
      tokens++;
    }
  }
  return { counts, tokens };
}

/**
 * The file as {@link TokenFrequencies} when it is one (JSON with the format field), else null
 * (text). A `.json` file, and a JSON object with a `format` field, are meant as token frequencies:
 * one that is not valid JSON (a truncated file) or names another format is an error, not text.
 */
function parseFrequencies(text: string, path: string): TokenFrequencies | null {
  const meant = path.toLowerCase().endsWith('.json');
  if (!meant && !text.trimStart().startsWith('{')) return null;
  const expected = `a token-frequency file (format "${TOKEN_FREQUENCIES_FORMAT}", as writeTokenFrequencies writes it)`;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    if (!meant) return null;
    throw new CheckpointError(
      'bad-header',
      path,
      `expected ${expected}, found invalid JSON (${(cause as Error).message})`,
    );
  }
  const f = value as Partial<TokenFrequencies>;
  if (f.format !== TOKEN_FREQUENCIES_FORMAT) {
    if (!meant && !(value !== null && typeof value === 'object' && 'format' in value)) return null;
    throw new CheckpointError(
      'bad-header',
      path,
      `expected ${expected}, found format ${JSON.stringify(f.format)}`,
    );
  }
  if (
    typeof f.tokenizerSha256 !== 'string' ||
    !Number.isSafeInteger(f.tokens) ||
    (f.tokens as number) < 1 ||
    !Array.isArray(f.counts) ||
    f.counts.some((c) => typeof c !== 'number' || !Number.isFinite(c) || c < 0)
  ) {
    throw new OptionError(
      'draftVocabCorpus',
      path,
      'a token-frequency file with tokenizerSha256 (a string), tokens (an integer >= 1, the tokens counted) ' +
        'and counts (finite numbers >= 0)',
    );
  }
  return f as TokenFrequencies;
}
