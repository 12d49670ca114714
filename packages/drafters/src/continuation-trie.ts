import type { DraftTree } from '@treespec/core';

/**
 * Merges candidate continuations of the context into one draft tree: a trie in which each
 * candidate adds its weight to every node on its path, so continuations that share a prefix share
 * nodes and the prefix carries their combined weight. `write` emits the trie breadth-first with
 * siblings heaviest first, scoring each node by the log of the fraction of its parent's weight
 * that continues through it — the candidates' empirical probability of that token.
 *
 * Candidates should be inserted best first: when the trie is full, a candidate keeps only the
 * prefix that fits.
 */
export class ContinuationTrie {
  /** Most nodes, root included. */
  readonly capacity: number;
  /** Longest continuation kept, in tokens. */
  readonly maxDepth: number;
  private size = 1;
  private readonly token: Int32Array;
  private readonly firstChild: Int32Array;
  private readonly nextSibling: Int32Array;
  private readonly weight: Float64Array;
  private readonly score: Float64Array;
  private readonly treeIndex: Int32Array;
  private readonly queue: Int32Array;
  private readonly children: Int32Array;

  constructor(capacity: number, maxDepth: number) {
    this.capacity = capacity;
    this.maxDepth = maxDepth;
    this.token = new Int32Array(capacity);
    this.firstChild = new Int32Array(capacity);
    this.nextSibling = new Int32Array(capacity);
    this.weight = new Float64Array(capacity);
    this.score = new Float64Array(capacity);
    this.treeIndex = new Int32Array(capacity);
    this.queue = new Int32Array(capacity);
    this.children = new Int32Array(capacity);
  }

  /** Number of nodes, root included. */
  get nodes(): number {
    return this.size;
  }

  /** Empties the trie. */
  clear(): void {
    this.size = 1;
    this.firstChild[0] = -1;
    this.weight[0] = 0;
  }

  /** Adds the continuation `tokens[0 .. count)` (cut at `maxDepth`) with the given weight (> 0). */
  insert(tokens: Int32Array, count: number, weight: number): void {
    let node = 0;
    this.weight[0] += weight;
    const depth = Math.min(count, this.maxDepth);
    for (let i = 0; i < depth; i++) {
      const token = tokens[i];
      let child = this.firstChild[node];
      while (child >= 0 && this.token[child] !== token) child = this.nextSibling[child];
      if (child < 0) {
        if (this.size === this.capacity) return;
        child = this.size++;
        this.token[child] = token;
        this.firstChild[child] = -1;
        this.weight[child] = 0;
        this.nextSibling[child] = this.firstChild[node];
        this.firstChild[node] = child;
      }
      this.weight[child] += weight;
      node = child;
    }
  }

  /** Writes the trie as a draft tree below `rootToken`: breadth-first, siblings heaviest first. */
  write(tree: DraftTree, rootToken: number): void {
    tree.reset(rootToken);
    const { queue, children, weight } = this;
    this.score[0] = 0;
    this.treeIndex[0] = 0;
    queue[0] = 0;
    let tail = 1;
    for (let head = 0; head < tail; head++) {
      const node = queue[head];
      let count = 0;
      for (let c = this.firstChild[node]; c >= 0; c = this.nextSibling[c]) {
        // Heaviest first; among equals the earlier-inserted (lower id) first.
        let pos = count++;
        while (
          pos > 0 &&
          (weight[children[pos - 1]] < weight[c] ||
            (weight[children[pos - 1]] === weight[c] && children[pos - 1] > c))
        ) {
          children[pos] = children[pos - 1];
          pos--;
        }
        children[pos] = c;
      }
      for (let i = 0; i < count; i++) {
        const c = children[i];
        this.score[c] = this.score[node] + Math.log(weight[c] / weight[node]);
        this.treeIndex[c] = tree.add(this.treeIndex[node], this.token[c], this.score[c]);
        queue[tail++] = c;
      }
    }
  }
}

/**
 * Writes into `out` up to `maxDepth` tokens that would follow `tokens[0 .. length)` if it went on
 * as it did after position `start` (< length). Positions past the end of the context read the
 * continuation itself, so a short-period repetition continues for the whole depth. Returns the
 * count (always `maxDepth`).
 */
export function readContinuation(
  tokens: Int32Array,
  length: number,
  start: number,
  maxDepth: number,
  out: Int32Array,
): number {
  for (let j = 0; j < maxDepth; j++) {
    const position = start + j;
    out[j] = position < length ? tokens[position] : out[position - length];
  }
  return maxDepth;
}
