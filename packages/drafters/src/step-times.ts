import { MATCH_CLASSES } from './acceptance-estimates.js';

/**
 * Running means of how long a decoding step takes with each drafter's tree — drafting and
 * verification together — per match-length class of the step (tree sizes, and so verification
 * costs, differ between classes): exponential moving averages started at the first observation.
 */
export class StepTimes {
  private readonly mean: Float64Array;
  private readonly seen: Uint32Array;

  constructor(
    drafters: number,
    readonly smoothing: number,
  ) {
    this.mean = new Float64Array(drafters * MATCH_CLASSES);
    this.seen = new Uint32Array(drafters * MATCH_CLASSES);
  }

  /** Mean step time in milliseconds of drafter `d` in match class `c`; NaN before its first step there. */
  of(d: number, c: number): number {
    const i = d * MATCH_CLASSES + c;
    return this.seen[i] === 0 ? Number.NaN : this.mean[i];
  }

  /** Records a step of `ms` milliseconds with drafter `d`'s tree in match class `c`. */
  record(d: number, c: number, ms: number): void {
    const i = d * MATCH_CLASSES + c;
    this.mean[i] = this.seen[i] === 0 ? ms : this.mean[i] + this.smoothing * (ms - this.mean[i]);
    this.seen[i]++;
  }
}
