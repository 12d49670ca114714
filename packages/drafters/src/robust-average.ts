/** Observations whose median starts the average. */
const WARM_UP = 3;

/**
 * An exponential moving average of timings that ignores spikes: after a few observations, a value
 * more than `spike` times the average (a GC pause, a scheduler hiccup) is dropped, unless it
 * repeats, in which case the cost really changed and the average follows. It starts from the
 * median of its first three observations (the smaller of the first two until then), so one
 * slow first call does not set the cost for long, nor does one lucky fast one: on a loaded
 * machine the smallest of three was a third below the mean, and the sizes timed least often
 * looked cheapest.
 */
export class RobustAverage {
  /** The average; NaN before any observation. */
  mean = Number.NaN;
  /** Observations taken into the average (seeded weight included). */
  count = 0;
  private dropped = 0;
  private first = 0;
  private second = 0;

  constructor(
    readonly smoothing: number,
    readonly spike = 3,
  ) {}

  /** Records a value; returns false when it was dropped as a spike (or is not a finite value >= 0). */
  record(value: number): boolean {
    if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) return false;
    if (this.count >= WARM_UP && value > this.spike * this.mean && this.dropped < 2) {
      this.dropped++;
      return false;
    }
    this.dropped = 0;
    this.count++;
    if (this.count === 1) {
      this.first = this.mean = value;
    } else if (this.count === 2) {
      this.second = value;
      this.mean = Math.min(this.first, value);
    } else if (this.count === WARM_UP) {
      this.mean = Math.max(
        Math.min(this.first, this.second),
        Math.min(Math.max(this.first, this.second), value),
      );
    } else {
      this.mean += Math.max(this.smoothing, 1 / this.count) * (value - this.mean);
    }
    return true;
  }

  /** Forgets every observation: the next one starts the average again. */
  clear(): void {
    this.mean = Number.NaN;
    this.count = 0;
    this.dropped = 0;
  }

  /** Starts from a known value, weighted as `weight` observations. */
  seed(value: number, weight: number): void {
    if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) return;
    this.mean = value;
    this.count = weight;
    this.dropped = 0;
  }
}
