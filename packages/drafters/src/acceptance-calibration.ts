import type { DraftTree } from '@treespec/core';

/**
 * How far the drafter's own probabilities predict what the target accepts, per depth. EAGLE-2's
 * observation is that a draft node's cumulative probability tracks its chance of being accepted;
 * at depth d the tree's nodes are alternatives for the same position, so the chance of accepting
 * any of them is about the sum of their probabilities (their "mass"). This keeps, per depth,
 * moving averages of that mass and of whether the target did accept a node there, and their
 * ratio is the factor that turns the drafter's mass into a calibrated chance. The prior factor
 * holds only until a depth is first observed, and is not averaged in as a mass: a depth whose
 * mass is tiny (the deep nodes of an under-confident head: 0.002 at depth 4 on the tiny model,
 * where the target accepts half of them) is priced from what the target accepted after a few
 * steps, not near its raw mass for a hundred. The first observations are averaged plainly, then
 * exponentially.
 */
export class AcceptanceCalibration {
  private readonly hits: Float64Array;
  private readonly mass: Float64Array;
  private readonly scratch: Float64Array;
  private readonly seen: Uint32Array;

  constructor(
    readonly maxDepth: number,
    readonly smoothing: number,
    /** Factor assumed before any observation. */
    prior = 1,
  ) {
    this.hits = new Float64Array(maxDepth + 1).fill(prior);
    this.mass = new Float64Array(maxDepth + 1).fill(1);
    this.scratch = new Float64Array(maxDepth + 1);
    this.seen = new Uint32Array(maxDepth + 1);
  }

  /** The factor at depth `d` (1-based). */
  factor(d: number): number {
    return this.hits[d] / this.mass[d];
  }

  /** The calibrated chance of accepting a node at depth `d` given the tree's mass there. */
  chance(d: number, mass: number): number {
    return Math.min(1, this.factor(d) * mass);
  }

  /** Learns from a verified tree of which the target accepted `accepted` drafted tokens. */
  record(tree: DraftTree, accepted: number): void {
    const mass = this.scratch;
    mass.fill(0);
    let deepest = 0;
    for (let i = 1; i < tree.size; i++) {
      const d = tree.depths[i];
      if (d > this.maxDepth) continue;
      mass[d] += Math.exp(tree.scores[i]);
      if (d > deepest) deepest = d;
    }
    for (let d = 1; d <= deepest; d++) {
      const s = Math.max(this.smoothing, 1 / ++this.seen[d]);
      const hit = accepted >= d ? 1 : 0;
      this.hits[d] += s * (hit - this.hits[d]);
      this.mass[d] += s * (mass[d] - this.mass[d]);
    }
  }

  /** The factors by depth, for statistics. */
  factors(): number[] {
    const out: number[] = [];
    for (let d = 1; d <= this.maxDepth; d++) out.push(this.factor(d));
    return out;
  }
}
