/** Match-length classes: 0, 1, 2–3, 4–7, 8–15, 16+ tokens. */
export const MATCH_CLASSES = 6;

/** The class of a match length: 0 for none, then one per power of two. */
export function matchClass(matchLength: number): number {
  return matchLength <= 0 ? 0 : Math.min(MATCH_CLASSES - 1, 32 - Math.clz32(matchLength));
}

/**
 * Running estimates of the drafted tokens each drafter gets accepted per step, per match-length
 * class of the step: exponential moving averages that start at their first observation, read as
 * the drafter's prior before it.
 */
export class AcceptanceEstimates {
  private readonly value: Float64Array;
  private readonly seen: Uint32Array;
  private readonly priors: Float64Array;

  /** One row of estimates per drafter; `priors[d]` is drafter d's estimate before it is observed. */
  constructor(
    priors: readonly number[],
    readonly smoothing: number,
  ) {
    this.priors = Float64Array.from(priors);
    this.value = new Float64Array(priors.length * MATCH_CLASSES);
    this.seen = new Uint32Array(priors.length * MATCH_CLASSES);
  }

  /** Estimated accepted tokens of drafter `d` in match class `c`. */
  estimate(d: number, c: number): number {
    const i = d * MATCH_CLASSES + c;
    return this.seen[i] === 0 ? this.priors[d] : this.value[i];
  }

  /** Records that drafter `d` got `accepted` tokens accepted in a step of match class `c`. */
  record(d: number, c: number, accepted: number): void {
    const i = d * MATCH_CLASSES + c;
    this.value[i] =
      this.seen[i] === 0 ? accepted : this.value[i] + this.smoothing * (accepted - this.value[i]);
    this.seen[i]++;
  }
}
