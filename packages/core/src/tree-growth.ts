import type { DraftTree } from './draft-tree.js';
import type { StepOutcome } from './drafter.js';
import { ContractError, OptionError } from './errors.js';
import { checkTreeBudget } from './tree-budget-cap.js';
import { requireInteger } from './validate.js';

/**
 * How a draft tree grows, one depth at a time. A drafter drives it the same way for every shape:
 *
 * ```ts
 * growth.begin(rootToken);
 * for (let n = growth.nextFrontier(frontier); n > 0; n = growth.nextFrontier(frontier)) {
 *   // run the draft model on the n frontier nodes in one call, then for each frontier node f:
 *   //   take its growth.childrenWanted(f) best tokens and growth.addChild(f, token, logProb)
 * }
 * growth.finish(tree);
 * ```
 *
 * Node ids are the growth's own (the root is 0); `finish` writes the kept nodes into a
 * {@link DraftTree}, parents before children and siblings best first.
 */
export interface TreeGrowth {
  /** Most nodes this growth can generate, root included; size scratch arrays with it. */
  readonly maxNodes: number;
  /** Most nodes `finish` can write, root included; size the DraftTree with it. */
  readonly maxTreeSize: number;
  /** Largest depth a node can reach. */
  readonly maxDepth: number;
  /** Most nodes one `nextFrontier` call can return. */
  readonly maxFrontier: number;
  /** Most children `childrenWanted` can ask for: how many top candidates a draft call must return. */
  readonly maxChildren: number;
  /**
   * True when `finish` drops generated nodes by their scores (EAGLE-2's rerank). Sampled
   * candidates need a growth that keeps every node, with node ids equal to tree indices, since
   * dropping drawn children by their value would bias them.
   */
  readonly prunes: boolean;
  /** Starts a new tree rooted at the last committed token. */
  begin(rootToken: number): void;
  /** Writes the ids of the nodes to expand next into `out` and returns how many; 0 when done. */
  nextFrontier(out: Int32Array): number;
  /** How many children (best first) node `node` of the current frontier should get. */
  childrenWanted(node: number): number;
  /**
   * Adds the `rank`-th best child of `parent` (ranks 0, 1, … in order) with its draft log-prob
   * (clamped to <= 0) and returns its node id, or -1 when the shape has no child of that rank.
   */
  addChild(parent: number, token: number, logProb: number): number;
  /** Token of a generated node. */
  tokenOf(node: number): number;
  /** Parent id of a generated node (-1 for the root). */
  parentOf(node: number): number;
  /** Depth of a generated node. */
  depthOf(node: number): number;
  /** Cumulative log-probability of a generated node. */
  scoreOf(node: number): number;
  /** Number of nodes generated so far, root included. */
  readonly generated: number;
  /** Writes the final tree. */
  finish(tree: DraftTree): void;
  /**
   * Optional: the exact entropy (nats) of the draft distribution a node's children come from,
   * for growths that stop on draft uncertainty; without it they bound it from the top-k log-probs.
   */
  reportEntropy?(node: number, entropy: number): void;
  /** Optional: learns from a verification (adaptive growths tune their thresholds). */
  observe?(outcome: StepOutcome): void;
  /**
   * Optional: caps the trees begun from now on at `depth` draft depths and `nodes` draft nodes
   * (root excluded), within the capacity set at construction (larger values are clamped to it);
   * a budget controller sets it before each step. Buffers stay sized for the full capacity.
   */
  capNext?(depth: number, nodes: number): void;
  /**
   * Optional, for growths that never prune: whether a tree capped at `depth` depths and `nodes`
   * draft nodes ({@link TreeGrowth.capNext}) keeps node `node` of the tree grown last. With
   * {@link TreeGrowth.capCovers}, what a controller reads each smaller tree's acceptance off the
   * drafted one with.
   */
  capKeeps?(node: number, depth: number, nodes: number): boolean;
  /**
   * Optional, for growths that never prune: whether the current caps keep every node that a tree
   * capped at `depth` depths and `nodes` draft nodes keeps, so that such a tree is part of the
   * trees grown now.
   */
  capCovers?(depth: number, nodes: number): boolean;
  /**
   * Optional: sizes the trees begun from now on by their value (null: by the caps alone). Each
   * tree then grows another depth only while its best frontier node is expected to pay for the
   * draft call and the row it adds, and keeps, within the caps, the nodes whose calibrated chances
   * give the most expected tokens per ms under `pricing`. A budget controller sets it.
   */
  priceNext?(pricing: TreePricing | null): void;
  /** Optional: depths the last tree grew (its draft-model calls), which a priced tree decides itself. */
  readonly grownDepth?: number;
  /** Optional: drafted tokens the last priced tree expects the target to accept (NaN if unpriced). */
  readonly expectedAccepted?: number;
}

/**
 * What a tree's nodes are worth and what they cost, for growths sized by value
 * ({@link TreeGrowth.priceNext}): the measured costs of this machine and a calibration of the
 * drafter's probabilities against what the target accepted.
 */
export interface TreePricing {
  /** The chance that the target accepts a node at `depth` whose cumulative draft probability is `probability`. */
  chance(depth: number, probability: number): number;
  /** Milliseconds of verifying a tree of `rows` nodes, the root included. */
  verifyMs(rows: number): number;
  /** Milliseconds of drafting `depth` depths (0: none). */
  draftMs(depth: number): number;
  /** Milliseconds a step costs beside drafting and verification. */
  readonly stepMs: number;
  /**
   * Nodes a tree keeps whatever their chances, the likeliest grown first, as long as they would
   * pay if the target accepted them (a growth grows no depth that does not pay for its call, so
   * the root's children bound what it can keep): a probe whose chances were just started afresh
   * verifies at least these, so that it has something to learn from. Default 0.
   */
  readonly minNodes?: number;
}

/**
 * A frontier node's best child is expected to be accepted this share as often as the node: the
 * growth expands another depth when that child would pay for its draft call and row.
 */
const CHILD_SHARE = 0.85;

/** Shared bookkeeping: generated nodes in flat arrays indexed by node id. */
abstract class GrowthNodes {
  readonly maxNodes: number;
  protected readonly token: Int32Array;
  protected readonly parent: Int32Array;
  protected readonly depth: Int32Array;
  protected readonly score: Float64Array;
  generated = 0;

  constructor(maxNodes: number) {
    this.maxNodes = maxNodes;
    this.token = new Int32Array(maxNodes);
    this.parent = new Int32Array(maxNodes);
    this.depth = new Int32Array(maxNodes);
    this.score = new Float64Array(maxNodes);
  }

  protected beginNodes(rootToken: number): void {
    this.generated = 1;
    this.token[0] = rootToken;
    this.parent[0] = -1;
    this.depth[0] = 0;
    this.score[0] = 0;
  }

  protected pushNode(parent: number, token: number, logProb: number): number {
    if (this.generated >= this.maxNodes) {
      throw new ContractError(`tree growth generated more than its ${this.maxNodes} nodes`);
    }
    const id = this.generated++;
    this.token[id] = token;
    this.parent[id] = parent;
    this.depth[id] = this.depth[parent] + 1;
    this.score[id] = this.score[parent] + Math.min(0, logProb);
    return id;
  }

  tokenOf(node: number): number {
    return this.token[node];
  }
  parentOf(node: number): number {
    return this.parent[node];
  }
  depthOf(node: number): number {
    return this.depth[node];
  }
  scoreOf(node: number): number {
    return this.score[node];
  }
}

/**
 * Options of EAGLE-2's dynamic tree, in the reference implementation's conventions (EAGLE's
 * `top_k`, `depth` and `total_token`): `depth` counts the levels grown after the root's own
 * children, and `totalTokens` counts the root. So `{ topK: 10, depth: 5, totalTokens: 60 }` is
 * EAGLE's default budget: six levels of draft nodes, 59 of them kept beside the root.
 */
export interface DynamicTreeOptions {
  /** Children per expanded node, and (unless `frontier` is set) nodes expanded per depth. Default: {@link DYNAMIC_TREE_DEFAULTS}. */
  topK?: number;
  /**
   * Nodes expanded per depth, the best of the newest depth by cumulative score. Default `topK`
   * (EAGLE-2). Smaller values keep a wide first level but cheap deeper draft calls, which suits
   * CPUs where each draft row costs.
   */
  frontier?: number;
  /**
   * Levels grown after the root's children (EAGLE's `depth`): draft nodes reach depth
   * `depth + 1`, and a step makes `depth + 1` draft-model calls. 0 drafts the root's children
   * only. Default: {@link DYNAMIC_TREE_DEFAULTS}.
   */
  depth?: number;
  /**
   * Nodes of the verified tree, the root included (EAGLE's `total_token`): the best
   * `totalTokens - 1` draft nodes are kept after the rerank. At least 2. Default: {@link DYNAMIC_TREE_DEFAULTS}.
   */
  totalTokens?: number;
  /**
   * Optional dynamic depth: stop expanding once the best frontier node's cumulative
   * probability falls below this value (0 disables). Default 0.
   */
  minFrontierProbability?: number;
}

/**
 * The budget a {@link DynamicTreeGrowth} grows when its options leave a field out, meant for GPUs:
 * top-8, five levels of draft nodes, 32 of them kept beside the root (in EAGLE's conventions
 * `depth` 4 and `totalTokens` 33; EAGLE's own default is top-10, depth 5, 60 tokens).
 * `frontier` defaults to `topK` and `minFrontierProbability` to 0.
 */
export const DYNAMIC_TREE_DEFAULTS: Readonly<
  Required<Pick<DynamicTreeOptions, 'topK' | 'depth' | 'totalTokens'>>
> = { topK: 8, depth: 4, totalTokens: 33 };

/**
 * EAGLE-2's dynamic draft tree: the root gets its `topK` best children; at each of the `depth`
 * next depths the `frontier` (default `topK`) newest nodes with the highest cumulative score are
 * expanded, each into `topK` children; then every generated node is reranked by cumulative score
 * and the best `totalTokens - 1` are kept beside the root. A child never scores above its parent and ties go to the node
 * generated first (ancestors come first), so the kept set is always a connected tree. Priced
 * ({@link DynamicTreeGrowth.priceNext}), it stops at the first depth whose best frontier node does
 * not pay for its draft call and row, and keeps the nodes by calibrated chance instead (a chance
 * never above the parent's, so the kept set stays connected), as many as give the most expected
 * tokens per ms.
 */
export class DynamicTreeGrowth extends GrowthNodes implements TreeGrowth {
  readonly topK: number;
  readonly frontierWidth: number;
  /** Levels of draft nodes: `depth + 1`. */
  readonly depthLimit: number;
  /** Nodes of the verified tree, root included (the option). */
  readonly totalTokens: number;
  readonly minFrontierLogProb: number;
  readonly maxTreeSize: number;
  readonly maxDepth: number;
  readonly maxFrontier: number;
  readonly maxChildren: number;
  readonly prunes = true;
  private currentDepth = 0;
  private newestStart = 0;
  private depthCap: number;
  private nodeCap: number;
  private readonly order: Int32Array;
  private readonly treeIndex: Int32Array;
  private pricing: TreePricing | null = null;
  /** Per generated node, its calibrated chance (never above its parent's); valid below `priced`. */
  private readonly chance: Float64Array;
  private priced = 0;
  /** Nodes the priced tree keeps so far (the best by chance), and its expected tokens per ms. */
  private keep = 0;
  private rate = 0;
  private accepted = Number.NaN;
  /** Whether `order`, `keep`, `rate` and `accepted` describe the current nodes and depth. */
  private ranked = false;

  constructor(options: DynamicTreeOptions = {}) {
    const topK = requireInteger('topK', options.topK ?? DYNAMIC_TREE_DEFAULTS.topK, 1, 4096);
    const levels = 1 + requireInteger('depth', options.depth ?? DYNAMIC_TREE_DEFAULTS.depth, 0, 1023);
    const totalTokens = requireInteger(
      'totalTokens',
      options.totalTokens ?? DYNAMIC_TREE_DEFAULTS.totalTokens,
      2,
      1 << 20,
    );
    const minProb = options.minFrontierProbability ?? 0;
    if (!(minProb >= 0 && minProb < 1)) {
      throw new OptionError('minFrontierProbability', minProb, 'a number in [0, 1)');
    }
    const frontier = requireInteger('frontier', options.frontier ?? topK, 1, 4096);
    super(checkTreeBudget(topK, levels - 1, frontier));
    this.topK = topK;
    this.frontierWidth = frontier;
    this.depthLimit = levels;
    this.totalTokens = totalTokens;
    this.minFrontierLogProb = minProb > 0 ? Math.log(minProb) : -Infinity;
    this.maxTreeSize = Math.min(totalTokens, this.maxNodes);
    this.maxDepth = levels;
    this.maxFrontier = Math.max(1, frontier);
    this.maxChildren = topK;
    this.depthCap = levels;
    this.nodeCap = totalTokens - 1;
    this.order = new Int32Array(this.maxNodes);
    this.treeIndex = new Int32Array(this.maxNodes);
    this.chance = new Float64Array(this.maxNodes);
  }

  /** Sizes later trees by their value under `pricing` (null: by the caps alone). */
  priceNext(pricing: TreePricing | null): void {
    this.pricing = pricing;
  }

  /** Depths the last tree grew. */
  get grownDepth(): number {
    return this.currentDepth;
  }

  /** Drafted tokens the last priced tree expects accepted; NaN when it was not priced. */
  get expectedAccepted(): number {
    return this.accepted;
  }

  /** Caps later trees at `depth` depths and `nodes` kept draft nodes (clamped to the budget). */
  capNext(depth: number, nodes: number): void {
    this.depthCap = Math.max(1, Math.min(this.depthLimit, Math.floor(depth)));
    this.nodeCap = Math.max(1, Math.min(this.totalTokens - 1, Math.floor(nodes)));
  }

  begin(rootToken: number): void {
    this.beginNodes(rootToken);
    this.currentDepth = 0;
    this.newestStart = 0;
    this.chance[0] = 1;
    this.priced = 1;
    this.accepted = Number.NaN;
    this.ranked = false;
  }

  nextFrontier(out: Int32Array): number {
    if (this.currentDepth >= this.depthCap) return 0;
    if (this.currentDepth === 0) {
      this.currentDepth = 1;
      this.newestStart = 1;
      out[0] = 0;
      return 1;
    }
    const start = this.newestStart;
    const end = this.generated;
    if (end === start) return 0;
    // Select the `frontier` best of the newest depth (score desc, id asc) by insertion.
    let count = 0;
    for (let id = start; id < end; id++) {
      const s = this.score[id];
      if (count === this.frontierWidth) {
        if (!(s > this.score[out[count - 1]])) continue;
        count--;
      }
      let pos = count;
      while (pos > 0 && s > this.score[out[pos - 1]]) {
        out[pos] = out[pos - 1];
        pos--;
      }
      out[pos] = id;
      count++;
    }
    if (this.score[out[0]] < this.minFrontierLogProb) return 0;
    const pricing = this.pricing;
    if (pricing) {
      this.rankByValue(pricing);
      let best = 0;
      for (let j = 0; j < count; j++) best = Math.max(best, this.chance[out[j]]);
      const d = this.currentDepth;
      const rows = this.keep + 1;
      const added =
        pricing.draftMs(d + 1) - pricing.draftMs(d) + pricing.verifyMs(rows + 1) - pricing.verifyMs(rows);
      if (best * CHILD_SHARE < this.rate * added) return 0;
    }
    this.currentDepth++;
    this.ranked = false;
    this.newestStart = end;
    return count;
  }

  childrenWanted(): number {
    return this.topK;
  }

  addChild(parent: number, token: number, logProb: number): number {
    this.ranked = false;
    return this.pushNode(parent, token, logProb);
  }

  /**
   * Prices the nodes generated since the last call, then ranks every node by chance into `order`
   * and sets `keep` to the count, within the node cap, with the most expected tokens per ms
   * (`rate`), and `accepted` to their expected accepted tokens.
   */
  private rankByValue(pricing: TreePricing): void {
    const { chance, order } = this;
    for (let id = this.priced; id < this.generated; id++) {
      const own = pricing.chance(this.depth[id], Math.exp(this.score[id]));
      chance[id] = Math.min(own, chance[this.parent[id]]);
    }
    this.priced = this.generated;
    const total = this.generated - 1;
    // Insertion by chance (desc, id asc): a parent ranks before its children.
    for (let i = 0; i < total; i++) {
      const id = i + 1;
      let pos = i;
      while (pos > 0 && chance[order[pos - 1]] < chance[id]) {
        order[pos] = order[pos - 1];
        pos--;
      }
      order[pos] = id;
    }
    const draft = pricing.draftMs(this.currentDepth) + pricing.stepMs;
    let sum = 1;
    this.keep = 0;
    this.rate = 1 / (draft + pricing.verifyMs(1));
    this.accepted = 0;
    const most = Math.min(this.nodeCap, total);
    const floor = Math.min(pricing.minNodes ?? 0, most);
    for (let k = 1; k <= most; k++) {
      sum += chance[order[k - 1]];
      const ms = draft + pricing.verifyMs(k + 1);
      const rate = sum / ms;
      // A node kept whatever it is worth must at least pay if the target accepts it.
      const kept = k <= floor && (1 + k) / ms > this.rate;
      if (kept || rate > this.rate) {
        this.rate = rate;
        this.keep = k;
        this.accepted = sum - 1;
      }
    }
    this.ranked = true;
  }

  finish(tree: DraftTree): void {
    const total = this.generated - 1;
    const order = this.order;
    const score = this.score;
    let keep: number;
    if (this.pricing) {
      // A tree that stopped at a depth whose frontier did not pay was ranked there already.
      if (!this.ranked) this.rankByValue(this.pricing);
      keep = this.keep;
    } else {
      keep = Math.min(this.nodeCap, total);
      for (let i = 0; i < total; i++) order[i] = i + 1;
      order.subarray(0, total).sort((a, b) => score[b] - score[a] || a - b);
    }
    const kept = order.subarray(0, keep);
    const depth = this.depth;
    kept.sort((a, b) => depth[a] - depth[b] || score[b] - score[a] || a - b);
    tree.reset(this.token[0]);
    const treeIndex = this.treeIndex;
    treeIndex[0] = 0;
    for (let i = 0; i < keep; i++) {
      const id = kept[i];
      const parentIndex = treeIndex[this.parent[id]];
      treeIndex[id] = tree.add(parentIndex, this.token[id], score[id]);
    }
  }
}

/**
 * A fixed tree shape, given as paths of child ranks from the root (EAGLE-1 / Medusa style):
 * `[[0], [1], [0, 0]]` is the root's best and second-best child plus the best child of the best.
 * Every prefix of a path is part of the shape too (added when missing).
 *
 * The order the paths are listed in is the order a cap keeps the nodes ({@link StaticTreeShape.byCapOrder}):
 * each path's nodes from the root, a node after its parent and its earlier siblings. A cap of
 * `n` nodes keeps the first `n`, so list first the nodes most likely to be accepted: for sampled
 * trees, where a second draw at a node is accepted far less often than the first draw's own child,
 * the deep chain of first draws.
 */
export class StaticTreeShape {
  /** Parent of each shape node (-1 for the root), in breadth-first order, siblings by rank. */
  readonly parents: Int32Array;
  /** Child rank of each shape node among its siblings. */
  readonly ranks: Int32Array;
  /** Depth of each shape node. */
  readonly depths: Int32Array;
  /** Highest child rank + 1 of each node, i.e. how many draft tokens it needs. */
  readonly childrenWanted: Int32Array;
  /** Number of shape nodes, root included. */
  readonly size: number;
  /** Largest child rank + 1 over all nodes: the row width of the child table. */
  readonly maxChildren: number;
  /** Shape node of child `rank` of node `p` at `p * maxChildren + rank`, or -1. */
  readonly childTable: Int32Array;
  /** The draft nodes (root excluded) in the order a cap keeps them. */
  readonly byCapOrder: Int32Array;
  /** Deepest node's depth. */
  readonly maxDepth: number;
  /**
   * Position (1-based) of shape node `s` in {@link StaticTreeShape.byCapOrder} among the nodes no
   * deeper than `d`, at `d * size + s`, for `d` up to {@link StaticTreeShape.maxDepth}; 0 for a node
   * deeper than `d` (and the root).
   */
  private readonly capRanks: Int32Array;

  constructor(paths: readonly (readonly number[])[]) {
    if (paths.length === 0) throw new OptionError('paths', paths, 'at least one path of child ranks');
    const keys = new Map<string, number[]>();
    keys.set('', []);
    for (const path of paths) {
      if (path.length === 0) throw new OptionError('paths', path, 'non-empty lists of child ranks');
      for (const r of path) requireInteger('paths[][]', r, 0, 4095);
      for (let len = 1; len <= path.length; len++) keys.set(path.slice(0, len).join(','), path.slice(0, len));
    }
    const nodes = [...keys.values()].sort((a, b) => {
      if (a.length !== b.length) return a.length - b.length;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    });
    const indexOf = new Map(nodes.map((p, i) => [p.join(','), i]));
    this.size = nodes.length;
    this.parents = new Int32Array(this.size);
    this.ranks = new Int32Array(this.size);
    this.depths = new Int32Array(this.size);
    this.childrenWanted = new Int32Array(this.size);
    this.parents[0] = -1;
    for (let i = 1; i < this.size; i++) {
      const p = nodes[i];
      const parent = indexOf.get(p.slice(0, -1).join(',')) as number;
      const rank = p[p.length - 1];
      this.parents[i] = parent;
      this.ranks[i] = rank;
      this.depths[i] = p.length;
      this.childrenWanted[parent] = Math.max(this.childrenWanted[parent], rank + 1);
    }
    this.maxChildren = Math.max(...this.childrenWanted);
    this.childTable = new Int32Array(this.size * this.maxChildren).fill(-1);
    for (let i = 1; i < this.size; i++) {
      this.childTable[this.parents[i] * this.maxChildren + this.ranks[i]] = i;
    }
    this.maxDepth = Math.max(...this.depths);
    this.byCapOrder = this.capOrder(
      paths.map((path) => path.map((_, len) => indexOf.get(path.slice(0, len + 1).join(',')) as number)),
    );
    this.capRanks = new Int32Array((this.maxDepth + 1) * this.size);
    for (let d = 1; d <= this.maxDepth; d++) {
      let rank = 0;
      for (const node of this.byCapOrder)
        if (this.depths[node] <= d) this.capRanks[d * this.size + node] = ++rank;
    }
  }

  /**
   * Whether a tree capped at `depth` depths and `nodes` draft nodes keeps shape node `node`: it is
   * no deeper, and among the first `nodes` of {@link StaticTreeShape.byCapOrder} no deeper.
   */
  capKeeps(node: number, depth: number, nodes: number): boolean {
    const rank = this.capRanks[Math.min(depth, this.maxDepth) * this.size + node];
    return rank > 0 && rank <= nodes;
  }

  /**
   * The draft nodes in cap order: the paths' nodes as listed (`listed`: each path's shape nodes
   * from the root), each after its parent and its earlier siblings in the shape.
   */
  private capOrder(listed: readonly (readonly number[])[]): Int32Array {
    const order = new Int32Array(this.size - 1);
    const placed = new Uint8Array(this.size);
    placed[0] = 1;
    let count = 0;
    const place = (node: number): void => {
      if (placed[node]) return;
      place(this.parents[node]);
      for (let rank = 0; rank < this.ranks[node]; rank++) {
        const sibling = this.childTable[this.parents[node] * this.maxChildren + rank];
        if (sibling >= 0) place(sibling);
      }
      placed[node] = 1;
      order[count++] = node;
    };
    for (const path of listed) for (const node of path) place(node);
    return order;
  }

  /**
   * The part of this shape a budget in EAGLE's terms allows: draft nodes at most `depth + 1`
   * levels deep, a node's first `topK` children, children under at most `frontier` nodes of each
   * level (the first in cap order), and the first `totalTokens - 1` draft nodes in cap order
   * ({@link StaticTreeShape.byCapOrder}, which the result keeps). What the options leave out does
   * not limit it; the result is connected.
   * @throws OptionError for a limit out of range (as {@link DynamicTreeGrowth} checks them), or
   * limits that keep no node of the shape (a shape without a first child under `topK` ranks).
   */
  within(options: DynamicTreeOptions): StaticTreeShape {
    const unlimited = 1 << 20;
    const levels = 1 + requireInteger('depth', options.depth ?? unlimited, 0, unlimited);
    const children = requireInteger('topK', options.topK ?? unlimited, 1, unlimited);
    const frontier = requireInteger('frontier', options.frontier ?? options.topK ?? unlimited, 1, unlimited);
    const nodes = requireInteger('totalTokens', options.totalTokens ?? unlimited, 2, unlimited) - 1;
    const paths: number[][] = [[]];
    const kept = new Int32Array(this.size).fill(-1);
    kept[0] = 0;
    const expanded = new Int32Array(this.maxDepth + 1);
    const expanding = new Uint8Array(this.size);
    for (let k = 0; k < this.byCapOrder.length && paths.length <= nodes; k++) {
      const i = this.byCapOrder[k]!;
      const parent = this.parents[i]!;
      if (kept[parent]! < 0 || this.depths[i]! > levels || this.ranks[i]! >= children) continue;
      if (!expanding[parent]) {
        if (expanded[this.depths[parent]!]! >= frontier) continue;
        expanded[this.depths[parent]!]!++;
        expanding[parent] = 1;
      }
      kept[i] = paths.length;
      paths.push([...paths[kept[parent]!]!, this.ranks[i]!]);
    }
    if (paths.length === 1) {
      throw new OptionError(
        'tree',
        options,
        `limits that keep a node of the shape (its root has no child below rank ${children})`,
      );
    }
    return new StaticTreeShape(paths.slice(1));
  }

  /** A chain of `length` draft tokens: classic speculative decoding. */
  static chain(length: number): StaticTreeShape {
    requireInteger('length', length, 1, 4096);
    return new StaticTreeShape([Array.from({ length }, () => 0)]);
  }
}

/**
 * Grows a tree of a fixed {@link StaticTreeShape}: each shape node takes its drafted tokens by
 * rank, one depth per draft call. Every node of the shape that was drafted is kept (no rerank);
 * generated ids are already breadth-first with siblings by rank, so they are the tree indices.
 */
export class StaticTreeGrowth extends GrowthNodes implements TreeGrowth {
  readonly shape: StaticTreeShape;
  readonly maxTreeSize: number;
  readonly maxDepth: number;
  readonly maxFrontier: number;
  readonly maxChildren: number;
  readonly prunes = false;
  private readonly shapeNode: Int32Array;
  private readonly offered: Int32Array;
  private frontierDepth = 0;
  private depthCap: number;
  /** Per shape node, 1 where the current caps keep it. */
  private readonly kept: Uint8Array;
  /** Per shape node, the child ranks the current caps keep (its highest kept rank + 1). */
  private readonly keptChildren: Int32Array;

  constructor(shape: StaticTreeShape) {
    super(shape.size);
    this.shape = shape;
    this.maxTreeSize = shape.size;
    this.maxDepth = shape.maxDepth;
    const perDepth = new Int32Array(this.maxDepth + 1);
    for (let i = 0; i < shape.size; i++) {
      if (shape.childrenWanted[i] > 0) perDepth[shape.depths[i]]++;
    }
    this.maxFrontier = Math.max(...perDepth);
    this.maxChildren = shape.maxChildren;
    this.shapeNode = new Int32Array(shape.size);
    this.offered = new Int32Array(shape.size);
    this.kept = new Uint8Array(shape.size);
    this.keptChildren = new Int32Array(shape.size);
    this.depthCap = this.maxDepth;
    this.keepWithinCaps(shape.size - 1);
  }

  /**
   * Caps later trees at `depth` depths and `nodes` draft nodes: the first `nodes` shape nodes no
   * deeper than `depth` in the shape's cap order ({@link StaticTreeShape.byCapOrder}), a connected
   * subtree in which every node keeps its first children by rank. The cap is fixed before any
   * token is drafted, so sampled children stay unbiased draws.
   */
  capNext(depth: number, nodes: number): void {
    this.depthCap = Math.max(1, Math.min(this.maxDepth, Math.floor(depth)));
    this.keepWithinCaps(Math.max(1, Math.min(this.shape.size - 1, Math.floor(nodes))));
  }

  /** Whether a tree capped at `depth` depths and `nodes` draft nodes keeps node `node` of the tree grown last. */
  capKeeps(node: number, depth: number, nodes: number): boolean {
    return this.shape.capKeeps(this.shapeNode[node], depth, nodes);
  }

  /** Whether every node a tree capped at `depth` depths and `nodes` draft nodes keeps is within the current caps. */
  capCovers(depth: number, nodes: number): boolean {
    const { shape } = this;
    for (const node of shape.byCapOrder) {
      if (!shape.capKeeps(node, depth, nodes)) continue;
      if (!this.kept[node]) return false;
    }
    return true;
  }

  /** Marks the shape nodes kept within `depthCap` and `nodes` draft nodes, and each node's kept children. */
  private keepWithinCaps(nodes: number): void {
    const { shape, kept, keptChildren } = this;
    kept.fill(0);
    keptChildren.fill(0);
    kept[0] = 1;
    for (const node of shape.byCapOrder) {
      if (!shape.capKeeps(node, this.depthCap, nodes)) continue;
      kept[node] = 1;
      const parent = shape.parents[node];
      keptChildren[parent] = Math.max(keptChildren[parent], shape.ranks[node] + 1);
    }
  }

  begin(rootToken: number): void {
    this.beginNodes(rootToken);
    this.shapeNode[0] = 0;
    this.offered[0] = 0;
    this.frontierDepth = 0;
  }

  nextFrontier(out: Int32Array): number {
    if (this.frontierDepth >= this.depthCap) return 0;
    let count = 0;
    for (let id = 0; id < this.generated; id++) {
      if (this.depth[id] === this.frontierDepth && this.childrenWanted(id) > 0) out[count++] = id;
    }
    this.frontierDepth++;
    return count;
  }

  childrenWanted(node: number): number {
    return this.keptChildren[this.shapeNode[node]];
  }

  addChild(parent: number, token: number, logProb: number): number {
    const rank = this.offered[parent];
    this.offered[parent] = rank + 1;
    const parentShape = this.shapeNode[parent];
    const target =
      rank < this.shape.maxChildren ? this.shape.childTable[parentShape * this.shape.maxChildren + rank] : -1;
    if (target < 0 || !this.kept[target]) return -1;
    const id = this.pushNode(parent, token, logProb);
    this.shapeNode[id] = target;
    this.offered[id] = 0;
    return id;
  }

  finish(tree: DraftTree): void {
    tree.reset(this.token[0]);
    for (let id = 1; id < this.generated; id++) {
      tree.add(this.parent[id], this.token[id], this.score[id]);
    }
  }
}
