import type { DraftOutcome, DraftTree } from '@treespec/core';

/** Upper bounds of the probability bands calibrated apart (the last takes the rest). */
const BANDS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];
/** Weight of the prior (the drafter's own probability) in a band's chance, in observations. */
const PRIOR_WEIGHT = 2;

/**
 * The chance that the target accepts a draft node, from the node's depth and cumulative draft
 * probability: per depth and probability band, the share of verified nodes there that the target
 * accepted, with the probability itself as a prior worth {@link PRIOR_WEIGHT} observations. A
 * head's probabilities are not chances: on the tiny model a depth-1 node drafted at 0.1–0.2 is
 * accepted a quarter of the time, a depth-6 node at 0.03–0.1 over a third (docs/benchmarks.md).
 * Observations are counted plainly up to `memory` per band, then averaged exponentially, so the
 * bands follow the text as it changes.
 */
export class NodeChances {
  private readonly hits: Float64Array;
  private readonly seen: Float64Array;
  private readonly stride = BANDS.length + 1;
  /** Per node of the tree being priced, its chance ({@link NodeChances.expectedAccepted}). */
  private nodeChance = new Float64Array(0);

  constructor(
    readonly maxDepth: number,
    /** Observations a band remembers. Default 200. */
    readonly memory = 200,
  ) {
    this.hits = new Float64Array((maxDepth + 1) * this.stride);
    this.seen = new Float64Array((maxDepth + 1) * this.stride);
  }

  /** The chance of accepting a node at `depth` (1-based) of cumulative probability `probability`. */
  chance(depth: number, probability: number): number {
    const k = this.cell(depth, probability);
    return (this.hits[k] + PRIOR_WEIGHT * probability) / (this.seen[k] + PRIOR_WEIGHT);
  }

  /** Learns from a verified tree: each node was accepted or not (on the accepted path). */
  record(outcome: DraftOutcome): void {
    const { tree, path, pathLength } = outcome;
    let onPath = 1;
    for (let node = 1; node < tree.size; node++) {
      // Path slots run root first in tree order, so the accepted nodes come up in order.
      const hit = onPath < pathLength && path[onPath] === node ? 1 : 0;
      onPath += hit;
      const k = this.cell(tree.depths[node], Math.exp(tree.scores[node]));
      if (this.seen[k] < this.memory) {
        this.seen[k]++;
        this.hits[k] += hit;
      } else {
        this.hits[k] += hit - this.hits[k] / this.seen[k];
      }
    }
  }

  /**
   * Drafted tokens the target is expected to accept from `tree`: the sum of its nodes' chances,
   * each never above its parent's (as a priced growth ranks them).
   */
  expectedAccepted(tree: DraftTree): number {
    if (this.nodeChance.length < tree.size) this.nodeChance = new Float64Array(tree.capacity);
    const chance = this.nodeChance;
    chance[0] = 1;
    let sum = 0;
    for (let node = 1; node < tree.size; node++) {
      const own = this.chance(tree.depths[node], Math.exp(tree.scores[node]));
      chance[node] = Math.min(own, chance[tree.parents[node]]);
      sum += chance[node];
    }
    return sum;
  }

  /** Forgets every observation: each band's chance is the drafter's own probability again. */
  clear(): void {
    this.hits.fill(0);
    this.seen.fill(0);
  }

  private cell(depth: number, probability: number): number {
    let band = 0;
    while (band < BANDS.length && probability >= BANDS[band]) band++;
    return Math.min(depth, this.maxDepth) * this.stride + band;
  }
}
