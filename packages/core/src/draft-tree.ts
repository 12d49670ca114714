import { ContractError, OptionError } from './errors.js';
import { requireInteger } from './validate.js';

/**
 * How the candidates in a draft tree were chosen, which decides the lossless acceptance rule
 * under sampling:
 * - `deterministic`: children are the draft's top-k (EAGLE-2, static trees, lookup drafters);
 * - `sampled`: each child was drawn i.i.d. from a known draft distribution q, stored per parent
 *   in {@link DraftTree.draftDistributions};
 * - `sampled-distinct`: the children were drawn from q without replacement, each from q with the
 *   node's earlier children removed and the rest renormalised, so siblings never repeat a token
 *   (what treespec's model drafters draw).
 */
export type CandidateKind = 'deterministic' | 'sampled' | 'sampled-distinct';

/**
 * A draft tree in flat typed arrays. Node 0 is the root: the last committed token, which the
 * target has not processed yet. Every other node's parent has a smaller index. Siblings appear
 * in the order stochastic verification tries them in: by draft score, best first, for
 * deterministic candidates; in the order they were drawn for sampled ones.
 *
 * The arrays are allocated once with a fixed capacity and reused from step to step; only the
 * first {@link DraftTree.size} entries are meaningful.
 */
export class DraftTree {
  /** Most nodes this tree can hold, root included. */
  readonly capacity: number;
  /** Token id of each node. */
  readonly tokens: Int32Array;
  /** Index of each node's parent; -1 for the root. */
  readonly parents: Int32Array;
  /** Depth of each node; 0 for the root. */
  readonly depths: Int32Array;
  /** Cumulative draft log-probability of the path to each node; 0 for the root. */
  readonly scores: Float64Array;
  /** Number of nodes in use, root included. */
  size = 0;
  /** How the children were chosen; see {@link CandidateKind}. */
  candidateKind: CandidateKind = 'deterministic';
  /**
   * Row i (vocabSize floats) is the draft distribution q at node i, that its children were drawn
   * from. Required for `sampled` and `sampled-distinct` trees; optional otherwise.
   */
  draftDistributions: Float32Array | null = null;
  /**
   * The tokens outside of which every row of {@link DraftTree.draftDistributions} is 0 (a draft
   * model over a reduced draft vocabulary: FR-Spec, EAGLE-3's `d2t`), distinct; null when a row
   * may weigh any token. A verifier may then read only these columns of q.
   */
  draftSupport: Int32Array | null = null;
  /**
   * For {@link DraftTree.copyToDepth} and {@link DraftTree.cutToDepth}: each kept node's new
   * index, by its old one.
   */
  private renumbered = new Int32Array(0);

  constructor(capacity: number) {
    requireInteger('capacity', capacity, 1);
    this.capacity = capacity;
    this.tokens = new Int32Array(capacity);
    this.parents = new Int32Array(capacity);
    this.depths = new Int32Array(capacity);
    this.scores = new Float64Array(capacity);
  }

  /** Empties the tree and sets its root. */
  reset(rootToken: number): void {
    this.size = 1;
    this.tokens[0] = rootToken;
    this.parents[0] = -1;
    this.depths[0] = 0;
    this.scores[0] = 0;
    this.candidateKind = 'deterministic';
    this.draftDistributions = null;
    this.draftSupport = null;
  }

  /**
   * Appends a node below `parent` and returns its index. Children must be added after their
   * parent and, among siblings, best score first.
   */
  add(parent: number, token: number, score: number): number {
    if (this.size >= this.capacity) {
      throw new OptionError('capacity', this.capacity, `at least ${this.size + 1} to hold this draft tree`);
    }
    if (!Number.isInteger(parent) || parent < 0 || parent >= this.size) {
      throw new ContractError(
        `a draft node's parent must be a node already in the tree, in [0, ${this.size}); got ${parent}`,
      );
    }
    const index = this.size++;
    this.tokens[index] = token;
    this.parents[index] = parent;
    this.depths[index] = this.depths[parent] + 1;
    this.scores[index] = score;
    return index;
  }

  /** The largest depth of any node (0 for a root-only tree). */
  maxDepth(): number {
    let max = 0;
    for (let i = 1; i < this.size; i++) if (this.depths[i] > max) max = this.depths[i];
    return max;
  }

  /** The first child of node `node` (its best-ranked), or -1 when it has none. */
  firstChild(node: number): number {
    for (let i = node + 1; i < this.size; i++) if (this.parents[i] === node) return i;
    return -1;
  }

  /** Copies another tree into this one (capacity permitting). */
  copyFrom(other: DraftTree): void {
    if (other.size > this.capacity) {
      throw new OptionError('capacity', this.capacity, `at least ${other.size} to copy this draft tree`);
    }
    this.size = other.size;
    this.tokens.set(other.tokens.subarray(0, other.size));
    this.parents.set(other.parents.subarray(0, other.size));
    this.depths.set(other.depths.subarray(0, other.size));
    this.scores.set(other.scores.subarray(0, other.size));
    this.candidateKind = other.candidateKind;
    this.draftDistributions = other.draftDistributions;
    this.draftSupport = other.draftSupport;
  }

  /**
   * Copies the nodes of another tree that are at most `maxDepth` deep, in their order (capacity
   * permitting): the tree cut to its first `maxDepth` levels. `maxDepth` 0 leaves the root alone.
   */
  copyToDepth(other: DraftTree, maxDepth: number): void {
    let kept = 0;
    for (let i = 0; i < other.size; i++) if (other.depths[i] <= maxDepth) kept++;
    if (kept > this.capacity) {
      throw new OptionError('capacity', this.capacity, `at least ${kept} to copy this draft tree`);
    }
    this.size = this.keepShallow(other, maxDepth);
    this.candidateKind = other.candidateKind;
    this.draftDistributions = other.draftDistributions;
    this.draftSupport = other.draftSupport;
  }

  /**
   * Drops, in place, every node deeper than `maxDepth`, keeping the others in their order. Only
   * for trees without draft distributions (their rows follow the node indices, which this
   * renumbers).
   * @throws ContractError for a tree that carries draft distributions.
   */
  cutToDepth(maxDepth: number): void {
    if (this.draftDistributions) {
      throw new ContractError(
        `cutting a tree to depth ${maxDepth} renumbers its nodes; this ${this.candidateKind} tree carries draft distributions indexed by node`,
      );
    }
    this.size = this.keepShallow(this, maxDepth);
  }

  /**
   * Writes the nodes of `from` at most `maxDepth` deep into this tree's first slots, renumbered,
   * and returns how many there are. `from` may be this tree: a node is never written past the
   * slot it is read from.
   */
  private keepShallow(from: DraftTree, maxDepth: number): number {
    if (this.renumbered.length < from.size) this.renumbered = new Int32Array(from.capacity);
    const renumbered = this.renumbered;
    let size = 0;
    for (let i = 0; i < from.size; i++) {
      if (from.depths[i] > maxDepth) continue;
      renumbered[i] = size;
      this.tokens[size] = from.tokens[i];
      this.parents[size] = i === 0 ? -1 : renumbered[from.parents[i]];
      this.depths[size] = from.depths[i];
      this.scores[size] = from.scores[i];
      size++;
    }
    return size;
  }

  /**
   * Replaces this tree with the first path of another, at most `maxDepth` deep: from its root,
   * each node's first child (its best-ranked) in turn.
   */
  copyFirstPath(other: DraftTree, maxDepth: number): void {
    this.reset(other.tokens[0]);
    let node = 0;
    for (let d = 0; d < maxDepth; d++) {
      const child = other.firstChild(node);
      if (child < 0) break;
      this.add(this.size - 1, other.tokens[child], other.scores[child]);
      node = child;
    }
    this.candidateKind = other.candidateKind;
    this.draftDistributions = other.draftDistributions;
    this.draftSupport = other.draftSupport;
  }
}
