import type { Xoshiro128 } from '@treespec/core';

/**
 * The target's distribution p at one tree node while its sampled children are tried one by one
 * (recursive rejection sampling): p read off a row of probabilities or of softmax weights times
 * the inverse of their mass, then, after each rejected child c drawn from q_c, the residual
 * norm(max(p − q_c, 0)).
 *
 * The draft distributions weigh only the tokens of a support (a reduced draft vocabulary), so a
 * rejection changes p there alone: every other token keeps its share, scaled by the
 * renormalisation. The residual is kept over the support's columns plus one number for the mass
 * off it, so a rejection and the bonus draw after it cost the support's size, not the
 * vocabulary's (a draw that lands off the support walks the row once). Preallocated; nothing is
 * allocated per node.
 */
export class ResidualDistribution {
  readonly vocabSize: number;
  /** The support's column of each token; -1 off the support. */
  private readonly columnOf: Int32Array;
  /** Target token of each column of the current support. */
  private support: Int32Array;
  /** The support as given (null: the whole vocabulary), to skip rebuilding the same one. */
  private supportGiven: Int32Array | null | undefined;
  /** The whole vocabulary as a support, built on first use. */
  private identity: Int32Array | null = null;
  /** Whether the support is the whole vocabulary (then no mass lies off it). */
  private whole = false;
  /** The unnormalised residual on each column, once a child was rejected. */
  private readonly inside: Float64Array;
  private insideSum = 0;
  /** The unnormalised residual's mass off the support. */
  private outsideMass = 0;
  /** Off the support the unnormalised residual is the row times this. */
  private outsideScale = 1;
  /** The unnormalised residual's total: p is it divided by this. */
  private total = 1;
  private row: Float32Array | Float64Array = new Float64Array(0);
  private offset = 0;
  private scale = 1;
  /** Whether a child was rejected since {@link begin}, so `inside` holds the residual. */
  rejected = false;

  constructor(vocabSize: number) {
    this.vocabSize = vocabSize;
    this.columnOf = new Int32Array(vocabSize).fill(-1);
    this.support = new Int32Array(0);
    this.inside = new Float64Array(vocabSize);
  }

  /**
   * The tokens the draft distributions may weigh (distinct, below the vocabulary's size; the
   * tree's `draftSupport`), or null for every token.
   */
  useSupport(support: Int32Array | null): void {
    if (support === this.supportGiven) return;
    for (const token of this.support) this.columnOf[token] = -1;
    this.supportGiven = support;
    this.whole = support === null;
    if (support === null) {
      this.identity ??= Int32Array.from({ length: this.vocabSize }, (_, i) => i);
      this.support = this.identity;
    } else {
      this.support = support;
    }
    for (let d = 0; d < this.support.length; d++) this.columnOf[this.support[d]] = d;
  }

  /** Starts a node: p(t) = `row[offset + t] * scale`. */
  begin(row: Float32Array | Float64Array, offset: number, scale: number): void {
    this.row = row;
    this.offset = offset;
    this.scale = scale;
    this.total = 1;
    this.rejected = false;
  }

  /** Whether `token` lies in the support. */
  covers(token: number): boolean {
    return this.columnOf[token] >= 0;
  }

  /** The current p(token). */
  probability(token: number): number {
    if (!this.rejected) return this.row[this.offset + token] * this.scale;
    const column = this.columnOf[token];
    const weight = column >= 0 ? this.inside[column] : this.row[this.offset + token] * this.outsideScale;
    return weight / this.total;
  }

  /**
   * A child drawn from q_c = `q[qOffset + t] * qScale` (zero off the support) was rejected:
   * p ← norm(max(p − q_c, 0)).
   */
  reject(q: Float32Array, qOffset: number, qScale: number): void {
    const { support, inside } = this;
    let sum = 0;
    if (!this.rejected) {
      const { row, offset, scale } = this;
      let covered = 0;
      for (let d = 0; d < support.length; d++) {
        const token = support[d];
        const p = row[offset + token] * scale;
        covered += p;
        const residual = Math.max(p - q[qOffset + token] * qScale, 0);
        inside[d] = residual;
        sum += residual;
      }
      this.outsideMass = this.whole ? 0 : Math.max(1 - covered, 0);
      this.outsideScale = scale;
      this.rejected = true;
    } else {
      const inverse = 1 / this.total;
      for (let d = 0; d < support.length; d++) {
        const residual = Math.max(inside[d] * inverse - q[qOffset + support[d]] * qScale, 0);
        inside[d] = residual;
        sum += residual;
      }
      this.outsideMass *= inverse;
      this.outsideScale *= inverse;
    }
    this.insideSum = sum;
    this.total = sum + this.outsideMass;
  }

  /**
   * Draws a token from the residual (after at least one {@link reject}) by inverse CDF with one
   * uniform from `rng`: over the support's columns, then, past their mass, over the row off the
   * support. -1 only when nothing is left.
   */
  sample(rng: Xoshiro128): number {
    const { support, inside } = this;
    const u = rng.nextFloat() * this.total;
    let cumulative = 0;
    let lastInside = -1;
    for (let d = 0; d < support.length; d++) {
      const weight = inside[d];
      if (!(weight > 0)) continue;
      cumulative += weight;
      lastInside = support[d];
      if (u < cumulative) return lastInside;
    }
    if (this.outsideMass > 0) {
      const { row, offset, columnOf } = this;
      const target = (u - this.insideSum) / this.outsideScale;
      let outside = 0;
      let lastOutside = -1;
      for (let t = 0; t < this.vocabSize; t++) {
        const weight = row[offset + t];
        if (columnOf[t] >= 0 || !(weight > 0)) continue;
        outside += weight;
        lastOutside = t;
        if (target < outside) return t;
      }
      if (lastOutside >= 0) return lastOutside;
    }
    return lastInside;
  }

  /**
   * Σ min(p, q) of a row: `row[offset + t] * scale` against `q[qOffset + t]`, over the support
   * (q is 0 off it), i.e. one minus the residual's mass before renormalising.
   */
  overlap(row: Float32Array, offset: number, scale: number, q: Float32Array, qOffset: number): number {
    const { support } = this;
    let sum = 0;
    for (let d = 0; d < support.length; d++) {
      const token = support[d];
      sum += Math.min(row[offset + token] * scale, q[qOffset + token]);
    }
    return sum;
  }
}
