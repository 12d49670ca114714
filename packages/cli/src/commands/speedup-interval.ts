import { Xoshiro128 } from '@treespec/core';

/** What one prompt run contributed to a speed-up: tokens and decoding seconds of both sides. */
export interface PairedRun {
  baseTokens: number;
  baseSeconds: number;
  specTokens: number;
  specSeconds: number;
}

/** A two-sided percentile interval of an overall speed-up. */
export interface SpeedupInterval {
  /** Coverage, e.g. 0.95. */
  level: number;
  low: number;
  high: number;
  /** How many resampled prompt sets it rests on. */
  resamples: number;
}

/** Options of {@link speedupInterval}. */
export interface SpeedupIntervalOptions {
  /** Default 0.95. */
  level?: number;
  /** Default 2000. */
  resamples?: number;
  /** Seed of the resampling, so that a report is reproducible from its runs. Default 1. */
  seed?: number;
}

/**
 * The overall speed-up of `runs` (speculative tokens per second over plain tokens per second,
 * each from summed tokens and seconds, as `treespec bench` reports it) with a percentile bootstrap
 * interval: the runs are drawn with replacement into sets of the same size, and the interval holds
 * the middle `level` of those sets' speed-ups. It answers how far the ratio would move with another
 * set of prompts like these on a machine as noisy as it was during the runs, which a single ratio
 * hides (on the 2-core reference machine the same 20-prompt command moved by ±8 %). Over few runs
 * a percentile bootstrap covers a little less than its level (simulated at 95 %: it missed the true
 * speed-up 9.4 % of the time over 10 runs, 6.8 % over 20, 6.0 % over 40); and it treats the runs as
 * independent, so a drift of the machine's speed over the whole benchmark, which moves every run the
 * same way, is not in it. Null for fewer than two runs.
 */
export function speedupInterval(
  runs: readonly PairedRun[],
  options: SpeedupIntervalOptions = {},
): SpeedupInterval | null {
  const n = runs.length;
  if (n < 2) return null;
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 2000;
  const rng = new Xoshiro128(options.seed ?? 1);
  const speedups = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let baseTokens = 0;
    let baseSeconds = 0;
    let specTokens = 0;
    let specSeconds = 0;
    for (let i = 0; i < n; i++) {
      const run = runs[Math.min(n - 1, Math.floor(rng.nextFloat() * n))] as PairedRun;
      baseTokens += run.baseTokens;
      baseSeconds += run.baseSeconds;
      specTokens += run.specTokens;
      specSeconds += run.specSeconds;
    }
    speedups[r] = specTokens / specSeconds / (baseTokens / baseSeconds);
  }
  speedups.sort();
  const tail = (1 - level) / 2;
  return {
    level,
    low: speedups[Math.floor(tail * (resamples - 1))] as number,
    high: speedups[Math.ceil((1 - tail) * (resamples - 1))] as number,
    resamples,
  };
}
