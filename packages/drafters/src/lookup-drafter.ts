import { type DraftContext, type DraftTree, requireInteger } from '@treespec/core';
import { ContinuationTrie, readContinuation } from './continuation-trie.js';
import { MATCHING_TREE_TOKENS, type MatchingDrafter } from './matching-drafter.js';
import { NgramIndex } from './ngram-index.js';

/** Options of {@link LookupDrafter}. */
export interface LookupDrafterOptions {
  /** Shortest context suffix (in tokens) worth matching. Default 1. */
  minNgram?: number;
  /** Longest context suffix matched. Default 4. */
  maxNgram?: number;
  /** Longest proposed continuation (tree depth). Default 8. */
  maxDepth?: number;
  /** Most draft tokens in a tree (root excluded). Default {@link MATCHING_TREE_TOKENS} (16). */
  maxTokens?: number;
  /** Most earlier occurrences whose continuations are merged into the tree. Default 4. */
  maxCandidates?: number;
}

/** Hash-chain entries examined per n-gram length and step: bounds the cost of a crowded bucket. */
const MAX_CHAIN_STEPS = 64;

/**
 * Prompt lookup (n-gram) drafting: finds the longest suffix of the committed tokens, between
 * `minNgram` and `maxNgram` tokens, that occurred earlier in the context and proposes the tokens
 * that followed it. Several earlier occurrences (most recent first; then those of shorter
 * suffixes, while fewer than `maxCandidates` were found) are merged into one tree, shared
 * prefixes once; siblings are ordered by how much match weight (suffix length, summed over the
 * occurrences) continues through them, and scored by the log of that fraction.
 *
 * The context is indexed incrementally (see {@link NgramIndex}): a step costs O(maxNgram) per new
 * token plus O(maxCandidates × maxDepth) to build the tree, independent of the context length.
 * Candidates are deterministic, so stochastic verification stays lossless.
 */
export class LookupDrafter implements MatchingDrafter {
  readonly name = 'lookup';
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  readonly minNgram: number;
  readonly maxNgram: number;
  readonly maxDepth: number;
  readonly maxCandidates: number;
  matchLength = 0;
  private readonly index: NgramIndex;
  private readonly trie: ContinuationTrie;
  private readonly ends: Int32Array;
  private readonly weights: Int32Array;
  private readonly continuation: Int32Array;

  constructor(options: LookupDrafterOptions = {}) {
    this.minNgram = requireInteger('minNgram', options.minNgram ?? 1, 1, 64);
    this.maxNgram = requireInteger('maxNgram', options.maxNgram ?? 4, this.minNgram, 64);
    this.maxDepth = requireInteger('maxDepth', options.maxDepth ?? 8, 1, 1024);
    const maxTokens = requireInteger('maxTokens', options.maxTokens ?? MATCHING_TREE_TOKENS, 1, 1 << 16);
    this.maxCandidates = requireInteger('maxCandidates', options.maxCandidates ?? 4, 1, 1024);
    this.maxTreeSize = maxTokens + 1;
    this.index = new NgramIndex(this.minNgram, this.maxNgram);
    this.trie = new ContinuationTrie(this.maxTreeSize, this.maxDepth);
    this.ends = new Int32Array(this.maxCandidates);
    this.weights = new Int32Array(this.maxCandidates);
    this.continuation = new Int32Array(this.maxDepth);
  }

  reset(): void {
    this.index.reset();
    this.matchLength = 0;
  }

  propose(context: DraftContext, tree: DraftTree): void {
    const { tokens, length } = context;
    if (length < this.index.length) this.index.reset();
    this.index.update(tokens, length);
    const root = tokens[length - 1];
    tree.reset(root);
    this.matchLength = 0;
    let count = 0;
    for (let n = Math.min(this.maxNgram, length - 1); n >= this.minNgram && count < this.maxCandidates; n--) {
      const before = count;
      count = this.index.collect(tokens, length, n, this.ends, count, this.maxCandidates, MAX_CHAIN_STEPS);
      for (let i = before; i < count; i++) this.weights[i] = n;
      if (count > before && this.matchLength === 0) this.matchLength = n;
    }
    if (count === 0) return;
    const trie = this.trie;
    trie.clear();
    for (let i = 0; i < count; i++) {
      const depth = readContinuation(tokens, length, this.ends[i], this.maxDepth, this.continuation);
      trie.insert(this.continuation, depth, this.weights[i]);
    }
    trie.write(tree, root);
  }
}
