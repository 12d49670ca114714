import type { ControllerSeed } from '@treespec/core';
import { RobustAverage } from './robust-average.js';

/** Observations after which a bucket's own average is used instead of the fit across buckets. */
export const TRUSTED = 3;
/** Weight of a seeded value, in observations. */
const SEED_WEIGHT = 4;
/**
 * Observations (of any size) after which a size's own average is stale: the machine's load may
 * have changed since. A stale size is read from the fit over the fresh sizes (over all of them
 * when none is fresh).
 */
export const FRESH = 64;

/**
 * A size's cost that falls by more than this factor three timings in a row starts its average
 * again from them ({@link RobustAverage}): ordinary noise on a shared machine moves a step by a
 * third at most, a process's first cold calls by two to three times.
 */
const LEVEL_DROP = 1.5;

/**
 * A cost by an integer size (tree nodes, draft depths): one {@link RobustAverage} per size, read
 * directly once it has a few observations, else from a weighted least-squares line through the
 * measured sizes (with one size measured, a cost in proportion to `size + offset` through it).
 * Sizes never measured near a measured one are so priced before they are tried. Sizes below
 * `fitFrom` are a different kind of work: priced by their own measurements alone, and left out
 * of the line while any larger size is measured.
 */
export class SizedCost {
  private readonly buckets: RobustAverage[];
  private readonly lastSeen: Float64Array;
  private observed = 0;
  /** The last fitted line ({@link SizedCost.fitLine}): mean size, mean cost, slope, smallest size. */
  private lineX = 0;
  private lineY = 0;
  private lineSlope = 0;
  private lineSmallest = 0;
  /** How far the last fitted line was lowered ({@link SizedCost.staleExcess}). */
  private lineLowered = 0;

  constructor(
    readonly maxSize: number,
    smoothing: number,
    /** While a single size is measured, costs are taken to grow in proportion to `size + offset`. */
    readonly offset: number,
    /** The smallest size the line runs through. Default 1. */
    readonly fitFrom = 1,
  ) {
    this.buckets = Array.from({ length: maxSize + 1 }, () => new RobustAverage(smoothing, 3, LEVEL_DROP));
    this.lastSeen = new Float64Array(maxSize + 1);
  }

  /**
   * Records a cost at `size`; false when dropped as a spike or out of range. A size below
   * `fitFrom` that went stale starts its average again: nothing else prices it meanwhile, and a
   * price from another hour would otherwise take many timings to forget.
   */
  record(size: number, ms: number): boolean {
    if (!(size >= 1 && size <= this.maxSize)) return false;
    if (size < this.fitFrom && this.age(size) > FRESH) this.buckets[size].clear();
    this.observed++;
    this.lastSeen[size] = this.observed;
    return this.buckets[size].record(ms);
  }

  /** Forgets the timings of `size`: its next one starts the average again. */
  forget(size: number): void {
    this.buckets[size]?.clear();
  }

  /**
   * Counts a step that timed no size here, so that ages run in steps: a table timed only by some
   * kinds of step (drafting, by steady drafted steps) sees its prices go stale while other steps run.
   */
  tick(): void {
    this.observed++;
  }

  /** Observations of other sizes since `size` was last observed (Infinity if never). */
  age(size: number): number {
    const b = this.buckets[size];
    return b && b.count > 0 ? this.observed - this.lastSeen[size] : Number.POSITIVE_INFINITY;
  }

  /** Seeds size `size` with a measured cost. */
  seed(size: number, ms: number): void {
    if (size >= 1 && size <= this.maxSize) this.buckets[size].seed(ms, SEED_WEIGHT);
  }

  /** Observations (seeded weight included) at `size`. */
  observations(size: number): number {
    return size >= 1 && size <= this.maxSize ? this.buckets[size].count : 0;
  }

  /** Whether any size has been measured. */
  get measured(): boolean {
    return this.measuredFrom(1);
  }

  /**
   * Predicted cost at `size`; NaN when nothing has been measured. A size without a trusted average
   * of its own is never priced above a larger size that has one: a smaller tree is part of a
   * larger one's work, and a line through one slow early timing at a size seldom chosen would
   * otherwise keep that size from ever being chosen, and so from being timed again.
   */
  at(size: number): number {
    const own = this.buckets[size];
    if (size < this.fitFrom) return own && own.count > 0 ? own.mean : Number.NaN;
    if (own && own.count >= TRUSTED && this.age(size) <= FRESH) return own.mean;
    const fitted = this.fitLine() ? this.onLine(size) : Number.NaN;
    const larger = this.cheapestFresh(size + 1);
    return Number.isNaN(larger) ? fitted : Math.min(fitted, larger);
  }

  /**
   * Writes {@link SizedCost.at} of every size into `out[1..maxSize]` in one pass over the sizes
   * (the line fitted once), as a controller rating every candidate tree reads them.
   */
  pricesInto(out: Float64Array): void {
    let line: boolean | undefined;
    let larger = Number.NaN;
    for (let size = this.maxSize; size >= 1; size--) {
      const own = this.buckets[size];
      const fresh = this.age(size) <= FRESH;
      if (size < this.fitFrom) out[size] = own.count > 0 ? own.mean : Number.NaN;
      else if (own.count >= TRUSTED && fresh) out[size] = own.mean;
      else {
        line ??= this.fitLine();
        const onLine = line ? this.onLine(size) : Number.NaN;
        out[size] = Number.isNaN(larger) ? onLine : Math.min(onLine, larger);
      }
      if (own.count >= TRUSTED && fresh && !(own.mean >= larger)) larger = own.mean;
    }
  }

  /**
   * Writes a smooth price of every size into `out[1..maxSize]`: below `fitFrom` each size's own
   * average, from there the line through the measured sizes (NaN while none is). Sizing a tree
   * node by node reads the differences between neighbouring sizes, which the sizes' own noisy
   * averages would make erratic, and which a size priced high once and so never chosen again
   * would keep high. A line through stale sizes alone is lowered to the fresh prices below
   * `fitFrom` ({@link SizedCost.staleExcess}). While fewer than two sizes from `fitFrom` up are
   * measured, the line runs through the smaller sizes too: through one size alone it would price
   * the others in proportion to `size + offset`, far from what they cost when that size is large.
   * A size below `fitFrom` not yet measured (a plain step, before one is timed) is read from the
   * line too.
   */
  linePricesInto(out: Float64Array): void {
    let measured = 0;
    for (let size = this.fitFrom; size <= this.maxSize && measured < 2; size++) {
      if (this.buckets[size].count > 0) measured++;
    }
    const line = this.fitLine(measured < 2 ? 1 : this.fitFrom, true);
    for (let size = 1; size <= this.maxSize; size++) {
      const own = this.buckets[size];
      if (size < this.fitFrom && own.count > 0) out[size] = own.mean;
      else out[size] = line ? this.onLine(size) : Number.NaN;
    }
  }

  /**
   * Fits the line through the measured sizes from `lowest` up (see the class); false when nothing
   * is measured. Stale sizes are left out while a size from `fitFrom` up is fresh, and sizes timed
   * fewer than {@link TRUSTED} times while two sizes are timed that often: a size's first timing
   * can be a spike that its average does not yet drop (a GC pause, 103 ms for a verification of
   * two nodes that costs 2.7 on the Zen 5 machine of session 50), and through the line it priced
   * every size so high that greedy EAGLE-2's trees sized by value kept no node, so no size was
   * timed again: it decoded plainly for a whole run of the benchmark. With `lowerStale`, a line
   * through two or more stale sizes alone is lowered to the fresh prices below `fitFrom`
   * ({@link SizedCost.staleExcess}); through one size, its slope is assumed, not measured.
   */
  private fitLine(lowest = this.fitFrom, lowerStale = false): boolean {
    let from = lowest;
    while (from > 1 && !this.measuredFrom(from)) from--;
    let fresh = false;
    for (let s = Math.max(from, this.fitFrom); s <= this.maxSize && !fresh; s++) fresh = this.age(s) <= FRESH;
    let trustedSizes = 0;
    for (let s = from; s <= this.maxSize && trustedSizes < 2; s++) {
      if (this.buckets[s].count >= TRUSTED && !this.staleBeside(s, fresh)) trustedSizes++;
    }
    const fewest = trustedSizes >= 2 ? TRUSTED : 1;
    let w = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let sxy = 0;
    let smallest = 0;
    for (let s = from; s <= this.maxSize; s++) {
      const b = this.buckets[s];
      if (b.count < fewest || this.staleBeside(s, fresh)) continue;
      if (smallest === 0) smallest = s;
      const weight = Math.min(b.count, 10);
      w += weight;
      sx += weight * s;
      sy += weight * b.mean;
      sxx += weight * s * s;
      sxy += weight * s * b.mean;
    }
    if (w === 0) return false;
    const mx = sx / w;
    const my = sy / w;
    const varX = sxx / w - mx * mx;
    this.lineX = mx;
    this.lineY = my;
    this.lineSlope = varX > 1e-9 ? Math.max(0, (sxy / w - mx * my) / varX) : my / (mx + this.offset);
    this.lineSmallest = smallest;
    this.lineLowered = lowerStale && !fresh && varX > 1e-9 ? this.staleExcess() : 0;
    this.lineY -= this.lineLowered;
    return true;
  }

  /**
   * How far a line through stale sizes alone runs above the fresh prices of the sizes below
   * `fitFrom` (a plain step, for verification); 0 where it runs below them or none is fresh. Its
   * level is from another hour, its slope all it still says, so the prices that size trees by
   * value ({@link SizedCost.linePricesInto}) lower it by this much. Left there, a line timed in a
   * burst or in a process's first cold calls kept every tree dear against a plain price timed
   * since: on a Zen 5 machine in session 55 a line through stale sizes priced every tree at about
   * 6 ms against a 2.44 ms plain step, greedy EAGLE-2's trees sized by value kept no node, and no
   * tree was timed again (0.96–1.58× plain decoding over 22 runs, three of them wholly plain).
   */
  private staleExcess(): number {
    let excess = 0;
    for (let s = 1; s < this.fitFrom; s++) {
      const b = this.buckets[s];
      if (b.count === 0 || this.age(s) > FRESH) continue;
      excess = Math.max(excess, this.lineY + this.lineSlope * (s - this.lineX) - b.mean);
    }
    // A line through exact timings meets them up to rounding.
    return excess > 1e-9 * this.lineY ? excess : 0;
  }

  /** Whether `size` is stale while a fresh size exists (`fresh`): the line then leaves it out. */
  private staleBeside(size: number, fresh: boolean): boolean {
    return fresh && this.age(size) > FRESH;
  }

  /** The fitted line at `size`. */
  private onLine(size: number): number {
    const smallest = this.lineSmallest;
    // Below the sizes measured, a steep (noisy) line could reach zero: no cost falls faster than
    // in proportion to `size + offset` from the smallest size measured. A lowered line meets a
    // fresh price below them, which is its floor.
    const floor =
      smallest > 0 && size < smallest && this.lineLowered === 0
        ? (this.buckets[smallest].mean * (size + this.offset)) / (smallest + this.offset)
        : 0;
    return Math.max(floor, this.lineY + this.lineSlope * (size - this.lineX));
  }

  /**
   * The lowest own average of the sizes from `from` up with {@link TRUSTED} observations, one of
   * them within the last {@link FRESH}; NaN if none.
   */
  cheapestFresh(from: number): number {
    let cheapest = Number.NaN;
    for (let s = Math.max(1, from); s <= this.maxSize; s++) {
      const b = this.buckets[s];
      if (b.count >= TRUSTED && this.age(s) <= FRESH && !(b.mean >= cheapest)) cheapest = b.mean;
    }
    return cheapest;
  }

  /** Whether any size from `from` up has been measured. */
  private measuredFrom(from: number): boolean {
    for (let s = from; s <= this.maxSize; s++) if (this.buckets[s].count > 0) return true;
    return false;
  }

  /** `[size, ms]` for every measured size. */
  entries(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let s = 1; s <= this.maxSize; s++) {
      const b = this.buckets[s];
      if (b.count > 0) out.push([s, b.mean]);
    }
    return out;
  }
}

/**
 * Smoothing of the steady price of a plain step ({@link StepCostModel.plainMs}), at most the
 * controller's own. A plain step is timed on every step of a run of them, so at the controller's
 * 0.1 its price follows the bursts of a shared machine: on a Zen 5 machine whose steps slow by a
 * third for five to ten steps at a time, each burst priced plain decoding above the sampled trees'
 * prices (timed seldom, between bursts), and EAGLE-2 at temperature 1 drafted a quarter of its
 * steps, each 15 % below plain decoding's rate (docs/benchmarks.md, session 50).
 */
const STEADY_PLAIN_SMOOTHING = 0.02;

/**
 * What a decoding step costs on this machine and provider, measured during generation:
 * verification by tree size and the per-step overhead outside drafting and verification. Draft
 * costs belong to each drafter (a {@link SizedCost} by depth), since one target may serve several.
 * Size 1 is a plain step, timed after a plain step: no drafting came before it, so it is priced
 * by its own timings and not by the line through the trees' (which pay for the target's first
 * call after the drafter's).
 */
export class StepCostModel {
  readonly verify: SizedCost;
  /** A plain step's verification averaged over about fifty of them ({@link STEADY_PLAIN_SMOOTHING}). */
  readonly steadyPlain: RobustAverage;
  readonly overhead: RobustAverage;
  /** A plain step's verification right after a drafted step, over a plain step's price. */
  readonly leaving: RobustAverage;

  constructor(maxTreeSize: number, smoothing: number) {
    // While one size is measured: a CPU verifies a node for about a tenth of a token.
    this.verify = new SizedCost(maxTreeSize, smoothing, 9, 2);
    this.steadyPlain = new RobustAverage(Math.min(smoothing, STEADY_PLAIN_SMOOTHING));
    this.overhead = new RobustAverage(smoothing);
    this.leaving = new RobustAverage(smoothing);
  }

  /**
   * Records a plain step's verification (ms) after a plain step, in its size-1 price and in its
   * steady price; a stale price starts again in both.
   */
  recordPlain(ms: number): void {
    if (this.verify.age(1) > FRESH) this.steadyPlain.clear();
    this.verify.record(1, ms);
    this.steadyPlain.record(ms);
  }

  /** Records a plain step's verification (ms) right after a drafted step. */
  recordLeaving(ms: number): void {
    const plain = this.verify.at(1);
    if (plain > 0) this.leaving.record(ms / plain);
  }

  /**
   * What the plain step right after a drafted step costs beyond a plain step's price, in ms: on a
   * CPU the target's first one-row call after a tree's is dearer. 0 until measured.
   */
  leavingMs(): number {
    const extra = (this.leaving.mean - 1) * this.verify.at(1);
    return Number.isNaN(extra) ? 0 : Math.max(extra, 0);
  }

  /** Per-step overhead in ms (0 until measured). */
  overheadMs(): number {
    return Number.isNaN(this.overhead.mean) ? 0 : this.overhead.mean;
  }

  /**
   * Predicted ms of a plain step: its own timings, but never more than a fresh verification of a
   * tree, which does a plain step's work and more. A price timed at a busy moment would otherwise
   * make every tree look far ahead, and speculation that is far ahead is not re-timed. NaN until
   * a plain step is timed. `steady`: its own timings averaged over about fifty plain steps instead
   * of ten, for choices between a plain step and trees whose prices are timed seldom.
   */
  plainMs(steady = false): number {
    const own = steady && this.steadyPlain.count > 0 ? this.steadyPlain.mean : this.verify.at(1);
    const tree = this.verify.cheapestFresh(2);
    return this.overheadMs() + (Number.isNaN(tree) ? own : Math.min(own, tree));
  }

  /** Predicted ms of a step that drafts for `draftMs` and verifies a tree of `treeSize` nodes. */
  stepMs(draftMs: number, treeSize: number): number {
    return this.overheadMs() + draftMs + this.verify.at(treeSize);
  }

  /** Starts from stored measurements (entries out of range are ignored); `draft` takes the draft costs. */
  seed(seed: ControllerSeed, draft: SizedCost): void {
    for (const [size, ms] of seed.verifyMs) {
      this.verify.seed(size, ms);
      if (size === 1) this.steadyPlain.seed(ms, SEED_WEIGHT);
    }
    for (const [depth, ms] of seed.draftMs) draft.seed(depth, ms);
    if (seed.overheadMs !== undefined) this.overhead.seed(seed.overheadMs, SEED_WEIGHT);
  }

  /** The measurements, with `draft`'s, as a seed for another run on the same machine. */
  snapshot(draft: SizedCost): ControllerSeed {
    return {
      verifyMs: this.verify.entries(),
      draftMs: draft.entries(),
      ...(Number.isNaN(this.overhead.mean) ? {} : { overheadMs: this.overhead.mean }),
    };
  }
}

/** A cost by draft depth, with committing the new rows priced like about one depth's call. */
export function draftCost(maxDepth: number, smoothing: number): SizedCost {
  return new SizedCost(maxDepth, smoothing, 1);
}
