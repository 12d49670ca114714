import { ContractError, type DraftContext, type DraftOutcome, DraftTree } from '@treespec/core';
import { matchClass } from './acceptance-estimates.js';
import { SizedCost } from './cost-model.js';
import { DepthAcceptance } from './depth-acceptance.js';
import { GENERATION_KINDS } from './generation-kind.js';
import type { MatchingDrafter } from './matching-drafter.js';
import { committedTokens, replayFirstPath, replayWalk } from './replay-acceptance.js';

/** The best cut of a step's model-free trees. */
export interface ModelFreeCut {
  /** Index in the drafters; -1 when none matched. */
  drafter: number;
  /** Whether only the tree's first path is kept (each node's best-ranked child), else every branch. */
  firstPath: boolean;
  depth: number;
  /** Accepted tokens expected of the cut tree. */
  expected: number;
  /** Tokens expected per ms of the step. */
  rate: number;
}

/**
 * The model-free drafters' trees of each step (lookup, suffix automata: microseconds to draft),
 * and what verifying them commits and costs on this machine. Each tree can be cut to any of its
 * depths, whole or as its first path alone (each node's best-ranked child), and the root alone (a
 * plain step) is priced too: what each level adds in accepted tokens is learnt per drafter, match
 * class and depth ({@link DepthAcceptance}), by replaying every drafter's tree, verified or not,
 * against the tokens the target committed; what verifying a tree costs is measured by its size
 * (the step's time from `propose` to `observe`). So where extra nodes cost more than they return
 * (sampling from flat distributions, a provider whose rows are dear) the cuts shrink, down to
 * plain decoding. Acceptance is learnt apart for greedy generations and each band of sampling
 * temperatures ({@link ModelFreeTrees.reset}), so a process that serves several prices each kind
 * by its own.
 */
export class ModelFreeTrees {
  readonly drafters: readonly MatchingDrafter[];
  /** The largest tree any of the drafters proposes. */
  readonly maxTreeSize: number;
  /** The best cut {@link bestCut} found. */
  readonly cut: ModelFreeCut = {
    drafter: -1,
    firstPath: false,
    depth: 0,
    expected: 0,
    rate: Number.NEGATIVE_INFINITY,
  };
  /** Each drafter's tree of the current step. */
  private readonly trees: DraftTree[];
  /**
   * How deep trees get accepted, learnt apart for each kind of generation ({@link generationKind}:
   * a copied token is accepted only as often as the target samples it); `depths` is the current
   * generation's.
   */
  private readonly depthsByKind: DepthAcceptance[];
  private depths: DepthAcceptance;
  /** Step times of plain steps and model-free trees, by tree size. */
  private readonly stepTimes: SizedCost;
  private readonly committed: Int32Array;
  /** For the cuts of one tree: accepted tokens expected, and nodes kept, by depth. */
  private readonly expectedByDepth: Float64Array;
  private readonly nodesByDepth: Int32Array;

  /**
   * `smoothing`: weight of a new observation in the running estimates, in (0, 1]; `maxVerified`:
   * the largest tree a step verifies (a model drafter's beside them may be larger than theirs).
   */
  constructor(drafters: readonly MatchingDrafter[], smoothing: number, maxVerified = 0) {
    for (const d of drafters) {
      // A model drafter here (an EagleDrafter) has no match length and would draft on no features.
      if (typeof d.matchLength !== 'number' || d.needsFeatures) {
        throw new ContractError(
          `the ${d.name} drafter is not a model-free matching drafter (a MatchingDrafter with a matchLength, reading no features); ` +
            'a model drafter goes in as the hybrid’s primary',
        );
      }
    }
    this.drafters = drafters;
    this.maxTreeSize = Math.max(...drafters.map((d) => d.maxTreeSize));
    this.trees = drafters.map((d) => new DraftTree(d.maxTreeSize));
    this.depthsByKind = Array.from(
      { length: GENERATION_KINDS },
      () => new DepthAcceptance(2 * drafters.length, this.maxTreeSize - 1, smoothing),
    );
    this.depths = this.depthsByKind[0];
    this.stepTimes = new SizedCost(this.maxTreeSize, smoothing, 9, 2);
    this.committed = new Int32Array(Math.max(this.maxTreeSize, maxVerified) + 1);
    this.expectedByDepth = new Float64Array(this.maxTreeSize);
    this.nodesByDepth = new Int32Array(this.maxTreeSize);
  }

  /** Has every drafter propose its tree of this step; returns the longest match among them. */
  async propose(context: DraftContext): Promise<number> {
    let longest = 0;
    for (let i = 0; i < this.drafters.length; i++) {
      this.trees[i].reset(context.tokens[context.length - 1]);
      const pending = this.drafters[i].propose(context, this.trees[i]);
      if (pending) await pending;
      longest = Math.max(longest, this.drafters[i].matchLength);
    }
    return longest;
  }

  /** Drafter `i`'s tree of this step. */
  treeOf(i: number): DraftTree {
    return this.trees[i];
  }

  /** Copies the cut {@link bestCut} found into `tree`. */
  copyCut(tree: DraftTree): void {
    const { drafter, firstPath, depth } = this.cut;
    if (firstPath) tree.copyFirstPath(this.trees[drafter], depth);
    else tree.copyToDepth(this.trees[drafter], depth);
  }

  /**
   * Finds the drafter's tree and the cut of it (a depth; every branch or the first path) with the
   * highest expected rate (tokens per ms, from the step times measured by tree size) into
   * {@link cut}; a tree is taken whole while no step has been timed.
   */
  bestCut(): ModelFreeCut {
    const cut = this.cut;
    cut.drafter = -1;
    cut.depth = 0;
    cut.expected = 0;
    cut.rate = Number.NEGATIVE_INFINITY;
    const expected = this.expectedByDepth;
    const nodes = this.nodesByDepth;
    for (let i = 0; i < this.drafters.length; i++) {
      const tree = this.trees[i];
      if (tree.size <= 1) continue;
      const depth = tree.maxDepth();
      if (!this.stepTimes.measured) {
        this.take(i, false, depth, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
        continue;
      }
      nodes.fill(0, 0, depth);
      for (let n = 1; n < tree.size; n++) nodes[tree.depths[n] - 1]++;
      this.depths.expectedByDepth(row(i, false), this.ownClass(i), depth, expected);
      for (let d = 1, size = 1; d <= depth; d++) {
        size += nodes[d - 1];
        this.take(i, false, d, expected[d - 1], (1 + expected[d - 1]) / this.stepTimes.at(size));
      }
      let pathDepth = 0;
      for (let n = tree.firstChild(0); n >= 0; n = tree.firstChild(n)) pathDepth++;
      this.depths.expectedByDepth(row(i, true), this.ownClass(i), pathDepth, expected);
      for (let d = 1; d <= pathDepth; d++) {
        this.take(i, true, d, expected[d - 1], (1 + expected[d - 1]) / this.stepTimes.at(d + 1));
      }
    }
    return cut;
  }

  /**
   * Predicted ms of a plain step: its own timings, but never more than a fresh model-free tree's,
   * which does a plain step's work and more (a plain step timed at a busy moment would otherwise
   * price plain decoding out for good). NaN until a plain step is timed.
   */
  plainMs(): number {
    const tree = this.stepTimes.cheapestFresh(2);
    const own = this.stepTimes.at(1);
    return Number.isNaN(tree) ? own : Math.min(own, tree);
  }

  /** The predicted time (ms) of a step that verifies a model-free tree of `nodes` nodes (1: a plain step); NaN before any. */
  stepMs(nodes: number): number {
    return this.stepTimes.at(nodes);
  }

  /** Records a step of `ms` that verified a tree of `nodes` nodes: a plain step or a model-free tree's. */
  recordStep(nodes: number, ms: number): void {
    this.stepTimes.record(nodes, ms);
  }

  /**
   * Learns from a verification how deep each drafter's tree of the step would have been accepted,
   * and tells drafter `chosen` (-1: none) that its tree was the one verified.
   */
  learn(outcome: DraftOutcome, chosen: number): void {
    const count = committedTokens(outcome, this.committed);
    for (let i = 0; i < this.drafters.length; i++) {
      this.learnDepth(i, true, replayFirstPath(this.trees[i], this.committed, count), count);
      this.learnDepth(i, false, replayWalk(this.trees[i], this.committed, count), count);
      if (i === chosen) this.drafters[i].observe?.(outcome);
    }
  }

  /**
   * Accepted tokens expected of drafter `i`'s tree cut to `depth` (its whole tree: its maximum
   * depth) at a match length.
   */
  expectedAt(i: number, matchLength: number, depth: number): number {
    this.depths.expectedByDepth(row(i, false), matchClass(matchLength), depth, this.expectedByDepth);
    return this.expectedByDepth[depth - 1];
  }

  /** Accepted tokens expected of drafter `i`'s whole tree of this step. */
  wholeTreeExpected(i: number): number {
    return this.expectedAt(i, this.drafters[i].matchLength, this.trees[i].maxDepth());
  }

  /**
   * Resets the drafters for a new sequence of `kind` ({@link generationKind}; default 0, greedy):
   * the acceptance learnt from generations of that kind prices its trees. Step times are one
   * record for every kind: what a row costs the target hardly depends on how its token is chosen.
   */
  reset(kind = 0): void {
    this.depths = this.depthsByKind[kind];
    for (const d of this.drafters) d.reset();
  }

  async dispose(): Promise<void> {
    for (const d of this.drafters) await d.dispose?.();
  }

  /**
   * Records how deep drafter `i`'s first path or whole tree got: its replay against the `count`
   * committed tokens ended at `node`, short of them where that node has children.
   */
  private learnDepth(i: number, firstPath: boolean, node: number, count: number): void {
    const tree = this.trees[i];
    const reached = tree.depths[node];
    this.depths.record(
      row(i, firstPath),
      this.ownClass(i),
      reached,
      reached < count && tree.firstChild(node) >= 0,
    );
  }

  /** Makes this cut the step's best when its rate is higher. */
  private take(drafter: number, firstPath: boolean, depth: number, expected: number, rate: number): void {
    const cut = this.cut;
    if (!(rate > cut.rate)) return;
    cut.drafter = drafter;
    cut.firstPath = firstPath;
    cut.depth = depth;
    cut.expected = expected;
    cut.rate = rate;
  }

  private ownClass(i: number): number {
    return matchClass(this.drafters[i].matchLength);
  }
}

/** The row of {@link DepthAcceptance} that drafter `i`'s first path, or whole tree, is learnt in. */
function row(i: number, firstPath: boolean): number {
  return 2 * i + (firstPath ? 0 : 1);
}
