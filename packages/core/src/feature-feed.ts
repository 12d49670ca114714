import type { DraftContext } from './drafter.js';
import type { VerifyResult } from './verifier.js';

/** `T` with its readonly fields writable: the loop's own view of the objects it hands out. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The target features a feature drafter has not seen yet: after the prefill, the prompt's; after
 * each step, those of the accepted path, gathered into one reused buffer. Plain decoding and
 * drafters without features get none (`size` 0).
 */
export class FeatureFeed {
  /** Width of a feature row; 0 when no features are fed. */
  readonly size: number;
  private source: Float32Array | null = null;
  private start = 0;
  private rows = 0;
  private gathered: Float32Array;

  constructor(size: number, maxPathLength: number) {
    this.size = size;
    this.gathered = new Float32Array(size * maxPathLength);
  }

  /** Starts a generation: nothing to feed yet. */
  reset(): void {
    this.source = null;
    this.start = 0;
    this.rows = 0;
  }

  /** The prefill's features: one row per prompt token but the last. */
  afterPrefill(features: Float32Array | null | undefined, rows: number): void {
    if (this.size === 0 || !features) return;
    this.source = features;
    this.start = 0;
    this.rows = rows;
  }

  /**
   * A step's features: the rows of the accepted path, whose first token sat at `from - 1`; without
   * features the drafter is told that nothing new is there, from the newest token on.
   */
  afterStep(
    features: Float32Array | null | undefined,
    result: VerifyResult,
    from: number,
    length: number,
  ): void {
    if (this.size === 0 || !features) {
      this.source = null;
      this.start = length - 1;
      this.rows = 0;
      return;
    }
    const size = this.size;
    for (let k = 0; k < result.pathLength; k++) {
      const slot = result.path[k];
      this.gathered.set(features.subarray(slot * size, (slot + 1) * size), k * size);
    }
    this.source = this.gathered;
    this.start = from - 1;
    this.rows = result.pathLength;
  }

  /** Writes what is unseen into the drafter's context. */
  fill(context: Mutable<DraftContext>): void {
    context.features = this.source;
    context.featureStart = this.start;
    context.featureRows = this.rows;
  }
}
