import { type DraftContext, type DraftTree, OptionError, requireInteger } from '@treespec/core';
import { ContinuationTrie, readContinuation } from './continuation-trie.js';
import { MATCHING_TREE_TOKENS, type MatchingDrafter } from './matching-drafter.js';
import { SuffixAutomaton } from './suffix-automaton.js';
import { SuffixMatch } from './suffix-match.js';

/** Options of {@link SuffixDrafter}. */
export interface SuffixDrafterOptions {
  /** Longest proposed continuation (tree depth). Default 8. */
  maxDepth?: number;
  /** Most draft tokens in a tree (root excluded). Default {@link MATCHING_TREE_TOKENS} (16). */
  maxTokens?: number;
  /** Most continuations merged into the tree, from the context and the corpus together. Default 4. */
  maxCandidates?: number;
  /** Shortest match (in tokens) worth proposing from. Default 1. */
  minMatch?: number;
  /**
   * Token ids of documents to draft from as well (e.g. the files a code edit is about, or text a
   * RAG answer quotes), tokenized like the prompt. Indexed once, at construction.
   */
  corpus?: readonly ArrayLike<number>[];
}

/** Between corpus documents: no token matches it, so no match spans two documents. */
const SEPARATOR = -1;

/**
 * SAM-Decoding style drafting from suffix automata: the exact longest suffix of the committed
 * tokens that occurred before — in the context itself (an automaton over the prompt and generated
 * tokens) or in an optional corpus (a second, static automaton) — is kept up to date in amortised
 * O(1) per committed token, and the tokens that followed its occurrences are proposed as a tree.
 *
 * Candidates, longest match first: the first and a recent occurrence of the matched suffix, then
 * those of its shorter suffixes (following suffix links), up to `maxCandidates`, each weighted by
 * its match length; they are merged as in {@link LookupDrafter}. Unlike n-gram lookup, the match
 * length is unbounded, which makes {@link SuffixDrafter.matchLength} a sharp signal of how much to
 * trust the draft.
 */
export class SuffixDrafter implements MatchingDrafter {
  readonly name = 'suffix';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  readonly maxDepth: number;
  readonly maxCandidates: number;
  readonly minMatch: number;
  matchLength = 0;
  /** The automaton of the context minus its newest token (whose continuation is unknown). */
  private readonly text = new SuffixAutomaton();
  private readonly textMatch = new SuffixMatch();
  private readonly corpus: SuffixAutomaton | null;
  private readonly corpusTokens: Int32Array;
  private readonly corpusMatch = new SuffixMatch();
  private processed = 0;
  private readonly trie: ContinuationTrie;
  private readonly starts: Int32Array;
  private readonly fromCorpus: Uint8Array;
  private readonly weights: Int32Array;
  private readonly continuation: Int32Array;

  constructor(options: SuffixDrafterOptions = {}) {
    this.maxDepth = requireInteger('maxDepth', options.maxDepth ?? 8, 1, 1024);
    const maxTokens = requireInteger('maxTokens', options.maxTokens ?? MATCHING_TREE_TOKENS, 1, 1 << 16);
    this.maxCandidates = requireInteger('maxCandidates', options.maxCandidates ?? 4, 1, 1024);
    this.minMatch = requireInteger('minMatch', options.minMatch ?? 1, 1);
    this.maxTreeSize = maxTokens + 1;
    this.trie = new ContinuationTrie(this.maxTreeSize, this.maxDepth);
    this.starts = new Int32Array(2 * this.maxCandidates);
    this.fromCorpus = new Uint8Array(2 * this.maxCandidates);
    this.weights = new Int32Array(2 * this.maxCandidates);
    this.continuation = new Int32Array(this.maxDepth);
    this.corpusTokens = joinDocuments(options.corpus ?? []);
    this.corpus = this.corpusTokens.length > 0 ? SuffixAutomaton.of(this.corpusTokens) : null;
  }

  reset(): void {
    this.text.reset();
    this.textMatch.reset();
    this.corpusMatch.reset();
    this.processed = 0;
    this.matchLength = 0;
  }

  propose(context: DraftContext, tree: DraftTree): void {
    const { tokens, length } = context;
    if (length < this.processed) this.reset();
    this.catchUp(tokens, length);
    const root = tokens[length - 1];
    tree.reset(root);
    const longest = Math.max(this.textMatch.length, this.corpusMatch.length);
    this.matchLength = longest >= this.minMatch ? longest : 0;
    let count = this.gather(this.text, this.textMatch, false, 0);
    if (this.corpus) count = this.gather(this.corpus, this.corpusMatch, true, count);
    if (count === 0) return;
    this.sortCandidates(count);
    count = Math.min(count, this.maxCandidates);
    const trie = this.trie;
    trie.clear();
    for (let i = 0; i < count; i++) {
      const depth = this.fromCorpus[i]
        ? this.readCorpus(this.starts[i])
        : readContinuation(tokens, length, this.starts[i], this.maxDepth, this.continuation);
      if (depth > 0) trie.insert(this.continuation, depth, this.weights[i]);
    }
    trie.write(tree, root);
  }

  /**
   * Brings the automata up to `length` tokens: the text automaton holds all but the newest token,
   * so every state's end positions have a known next token, and both matches cover all of them.
   */
  private catchUp(tokens: Int32Array, length: number): void {
    const { text, textMatch, corpus, corpusMatch } = this;
    for (let j = this.processed; j < length; j++) {
      if (j > 0) text.append(tokens[j - 1]);
      textMatch.advance(text, tokens[j]);
      if (corpus) corpusMatch.advance(corpus, tokens[j]);
    }
    this.processed = length;
  }

  /**
   * Adds up to `maxCandidates` continuation starts of `match` and of its shorter suffixes (at
   * most `maxCandidates` suffix links up), after the `count` already listed; returns the new count.
   */
  private gather(automaton: SuffixAutomaton, match: SuffixMatch, fromCorpus: boolean, count: number): number {
    const limit = count + this.maxCandidates;
    let matched = match.length;
    let s = match.state;
    for (let up = 0; up < this.maxCandidates && s > 0 && matched >= this.minMatch && count < limit; up++) {
      count = this.addCandidate(automaton.firstEnd(s) + 1, fromCorpus, matched, count, limit);
      count = this.addCandidate(automaton.recentEnd(s) + 1, fromCorpus, matched, count, limit);
      s = automaton.link(s);
      matched = automaton.length(s);
    }
    return count;
  }

  private addCandidate(
    start: number,
    fromCorpus: boolean,
    weight: number,
    count: number,
    limit: number,
  ): number {
    if (count === limit) return count;
    const flag = fromCorpus ? 1 : 0;
    for (let i = 0; i < count; i++) if (this.starts[i] === start && this.fromCorpus[i] === flag) return count;
    this.starts[count] = start;
    this.fromCorpus[count] = flag;
    this.weights[count] = weight;
    return count + 1;
  }

  /** Orders the candidates by weight, longest match first (stable: context before corpus on ties). */
  private sortCandidates(count: number): void {
    const { starts, fromCorpus, weights } = this;
    for (let i = 1; i < count; i++) {
      const start = starts[i];
      const flag = fromCorpus[i];
      const weight = weights[i];
      let j = i;
      for (; j > 0 && weights[j - 1] < weight; j--) {
        starts[j] = starts[j - 1];
        fromCorpus[j] = fromCorpus[j - 1];
        weights[j] = weights[j - 1];
      }
      starts[j] = start;
      fromCorpus[j] = flag;
      weights[j] = weight;
    }
  }

  /** Reads the corpus from `start` up to a document end; returns the count. */
  private readCorpus(start: number): number {
    const corpus = this.corpusTokens;
    let count = 0;
    for (let p = start; count < this.maxDepth && p < corpus.length && corpus[p] !== SEPARATOR; p++) {
      this.continuation[count++] = corpus[p];
    }
    return count;
  }
}

function joinDocuments(documents: readonly ArrayLike<number>[]): Int32Array {
  const isDocument = (doc: unknown) =>
    Array.isArray(doc) || (ArrayBuffer.isView(doc) && !(doc instanceof DataView));
  if (!Array.isArray(documents) || !documents.every(isDocument)) {
    throw new OptionError(
      'corpus',
      documents,
      'an array of documents, each an array of token ids (one document: [ids])',
    );
  }
  let total = 0;
  for (const doc of documents) total += doc.length + 1;
  const joined = new Int32Array(Math.max(0, total - 1));
  let at = 0;
  documents.forEach((doc, d) => {
    if (d > 0) joined[at++] = SEPARATOR;
    for (let i = 0; i < doc.length; i++) {
      const id = doc[i];
      if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
        throw new OptionError(`corpus[${d}][${i}]`, id, 'a token id (an integer >= 0)');
      }
      joined[at++] = id;
    }
  });
  return joined;
}
