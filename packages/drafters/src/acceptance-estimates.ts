/** Match-length classes: 0, 1, 2–3, 4–7, 8–15, 16+ tokens. */
export const MATCH_CLASSES = 6;

/** The class of a match length: 0 for none, then one per power of two. */
export function matchClass(matchLength: number): number {
  return matchLength <= 0 ? 0 : Math.min(MATCH_CLASSES - 1, 32 - Math.clz32(matchLength));
}

/**
 * Running estimates of the drafted tokens each drafter gets accepted per step, per match-length
 * class of the step: exponential moving averages that start at their first exact observation.
 *
 * An observation can be censored — known only to be at least some value, as when a tree that was
 * not verified is replayed against the few tokens the target committed. A censored value can only
 * raise an estimate: before the first exact observation it raises a floor (the estimate is then
 * the larger of the prior and the floor), afterwards it moves the average up when above it.
 */
export class AcceptanceEstimates {
  private readonly value: Float64Array;
  private readonly floor: Float64Array;
  private readonly seen: Uint32Array;
  private readonly priors: Float64Array;

  /** One row of estimates per drafter; `priors[d]` is drafter d's estimate before it is observed. */
  constructor(
    priors: readonly number[],
    readonly smoothing: number,
  ) {
    this.priors = Float64Array.from(priors);
    this.value = new Float64Array(priors.length * MATCH_CLASSES);
    this.floor = new Float64Array(priors.length * MATCH_CLASSES);
    this.seen = new Uint32Array(priors.length * MATCH_CLASSES);
  }

  /** Estimated accepted tokens of drafter `d` in match class `c`. */
  estimate(d: number, c: number): number {
    const i = d * MATCH_CLASSES + c;
    return this.seen[i] === 0 ? Math.max(this.priors[d], this.floor[i]) : this.value[i];
  }

  /** Number of exact observations of drafter `d` in match class `c`. */
  observations(d: number, c: number): number {
    return this.seen[d * MATCH_CLASSES + c];
  }

  /**
   * Records that drafter `d` got `accepted` tokens accepted in a step of match class `c` — or, if
   * `censored`, at least that many.
   */
  record(d: number, c: number, accepted: number, censored = false): void {
    const i = d * MATCH_CLASSES + c;
    if (censored) {
      if (this.seen[i] === 0) this.floor[i] = Math.max(this.floor[i], accepted);
      else if (accepted > this.value[i]) this.value[i] += this.smoothing * (accepted - this.value[i]);
      return;
    }
    this.value[i] =
      this.seen[i] === 0 ? accepted : this.value[i] + this.smoothing * (accepted - this.value[i]);
    this.seen[i]++;
  }
}
