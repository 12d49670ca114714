import { MATCH_CLASSES } from './acceptance-estimates.js';

/**
 * How deep each model-free drafter's trees get accepted, per match class: for every depth d, the
 * rate at which a path accepted to depth d − 1 is accepted to depth d where the tree goes on (a
 * conditional rate, as in a Kaplan–Meier estimate), an exponential moving average per depth. A
 * depth never observed takes the rate of the nearest observed depth above it (the first depth:
 * `firstPrior`), and its first observation moves it from there by half the difference.
 *
 * Observations come from replaying a drafter's tree against the tokens the target committed (see
 * {@link replayWalk}). A replay decides only the depths it reached and, where it stopped at a
 * node whose children were all rejected, the next one; a replay that used every committed token
 * or ran into a leaf says nothing about the depths beyond. So cutting trees short, or decoding
 * plainly, leaves the deeper rates where they were instead of pulling them down.
 *
 * From the rates follows what a tree cut to depth D is expected to get accepted: the sum over
 * d ≤ D of the chance to reach d (the product of the rates down to d).
 */
export class DepthAcceptance {
  private readonly rate: Float64Array;
  private readonly seen: Uint32Array;

  constructor(
    drafters: number,
    readonly maxDepth: number,
    readonly smoothing: number,
    readonly firstPrior = 0.5,
  ) {
    this.rate = new Float64Array(drafters * MATCH_CLASSES * maxDepth);
    this.seen = new Uint32Array(drafters * MATCH_CLASSES * maxDepth);
  }

  /**
   * Records a replay of drafter `d`'s tree in match class `c` that walked `reached` levels deep;
   * `rejectedNext`: it stopped where the tree went on (the next depth was rejected).
   */
  record(d: number, c: number, reached: number, rejectedNext: boolean): void {
    const row = (d * MATCH_CLASSES + c) * this.maxDepth;
    const deepest = Math.min(reached, this.maxDepth);
    for (let k = 0; k < deepest; k++) this.observe(row, k, 1);
    if (rejectedNext && reached < this.maxDepth) this.observe(row, reached, 0);
  }

  /** The rate at which depth `depth` (≥ 1) of drafter `d`'s trees in match class `c` is accepted, given its parent was. */
  rateAt(d: number, c: number, depth: number): number {
    return this.rateOf((d * MATCH_CLASSES + c) * this.maxDepth, Math.min(depth, this.maxDepth) - 1);
  }

  /**
   * Writes into `out[D - 1]`, for D = 1 … `depth`, the accepted tokens expected of drafter `d`'s
   * tree in match class `c` cut to depth D; match class 0 (no match, nothing drafted) expects 0.
   */
  expectedByDepth(d: number, c: number, depth: number, out: Float64Array): void {
    const row = (d * MATCH_CLASSES + c) * this.maxDepth;
    let rate = this.firstPrior;
    let reach = 1;
    let sum = 0;
    for (let k = 0; k < depth; k++) {
      if (k < this.maxDepth && this.seen[row + k] > 0) rate = this.rate[row + k];
      reach *= c === 0 ? 0 : rate;
      sum += reach;
      out[k] = sum;
    }
  }

  /**
   * Moves the rate of depth `k` + 1 in `row` towards `accepted`; its first observation starts
   * from the rate it had been read as (the nearest observed depth above's), weighted as one.
   */
  private observe(row: number, k: number, accepted: number): void {
    const i = row + k;
    if (this.seen[i] === 0) this.rate[i] = k === 0 ? this.firstPrior : this.rateOf(row, k);
    this.seen[i]++;
    this.rate[i] += Math.max(this.smoothing, 1 / (this.seen[i] + 1)) * (accepted - this.rate[i]);
  }

  /** The rate of depth `k` + 1 in `row`: its own, else the nearest observed depth above's, else the prior. */
  private rateOf(row: number, k: number): number {
    for (let j = k; j >= 0; j--) if (this.seen[row + j] > 0) return this.rate[row + j];
    return this.firstPrior;
  }
}
