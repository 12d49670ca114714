/** Observations whose median starts the average. */
const WARM_UP = 3;

/** The middle one of three values. */
function median3(a: number, b: number, c: number): number {
  return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}

/**
 * An exponential moving average of timings that ignores spikes: after a few observations, a value
 * more than `spike` times the average (a GC pause, a scheduler hiccup) is dropped, unless it
 * repeats, in which case the cost really changed and the average follows. Given `drop`, a cost
 * that falls by more than that factor for three observations in a row restarts the average from
 * their median: the average was taken in a burst or in a process's first cold
 * calls, which at the smoothing's pace took some twenty timings to forget (on a Zen 5 machine in
 * session 55, a 2-row verification timed at 7.25 ms in a process's first generation cost about 3
 * later). It starts from the median of its first three observations (the smaller of the first
 * two until then), so one slow first call does not set the cost for long, nor does one lucky
 * fast one: on a loaded machine the smallest of three was a third below the mean, and the sizes
 * timed least often looked cheapest.
 */
export class RobustAverage {
  /** The average; NaN before any observation. */
  mean = Number.NaN;
  /** Observations taken into the average (seeded weight included). */
  count = 0;
  private dropped = 0;
  private first = 0;
  private second = 0;
  /** Observations in a row below the average over `drop` (up to two), and the first two of them. */
  private lowRun = 0;
  private firstLow = 0;
  private secondLow = 0;

  constructor(
    readonly smoothing: number,
    readonly spike = 3,
    /**
     * A fall by more than this factor that repeats restarts the average (see the class). Off by default.
     */
    readonly drop = Number.POSITIVE_INFINITY,
  ) {}

  /** Records a value; returns false when it was dropped as a spike (or is not a finite value >= 0). */
  record(value: number): boolean {
    if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) return false;
    if (this.count >= WARM_UP && value > this.spike * this.mean && this.dropped < 2) {
      this.dropped++;
      return false;
    }
    this.dropped = 0;
    if (this.count >= WARM_UP && this.fellBy(value)) return true;
    this.count++;
    if (this.count === 1) {
      this.first = this.mean = value;
    } else if (this.count === 2) {
      this.second = value;
      this.mean = Math.min(this.first, value);
    } else if (this.count === WARM_UP) {
      this.mean = median3(this.first, this.second, value);
    } else {
      this.mean += Math.max(this.smoothing, 1 / this.count) * (value - this.mean);
    }
    return true;
  }

  /**
   * Counts `value` into the run of values below the average over `drop`; true when it is the
   * run's third, whose median is then the average.
   */
  private fellBy(value: number): boolean {
    if (!(value * this.drop < this.mean)) {
      this.lowRun = 0;
      return false;
    }
    if (this.lowRun < 2) {
      if (this.lowRun === 0) this.firstLow = value;
      else this.secondLow = value;
      this.lowRun++;
      return false;
    }
    this.mean = median3(this.firstLow, this.secondLow, value);
    this.count++;
    this.lowRun = 0;
    return true;
  }

  /** Forgets every observation: the next one starts the average again. */
  clear(): void {
    this.mean = Number.NaN;
    this.count = 0;
    this.dropped = 0;
    this.lowRun = 0;
  }

  /** Starts from a known value, weighted as `weight` observations. */
  seed(value: number, weight: number): void {
    if (!(value >= 0 && value < Number.POSITIVE_INFINITY)) return;
    this.mean = value;
    this.count = weight;
    this.dropped = 0;
    this.lowRun = 0;
  }
}
