import { ContractError, requireInteger, requireNumber, type TreeGrowth, Xoshiro128 } from '@treespec/core';

/** How a model drafter draws sampled trees: the draft distribution's temperature and the draws' seed. */
export interface DraftSampling {
  /** Temperature of the draft distribution q the children are drawn from (> 0). */
  temperature: number;
  /** Seed of the draws when a generation brings none; default 0. */
  seed?: number;
}

/**
 * Draws a node's children i.i.d. from the draft distribution q of the model row that scored it
 * (the softmax of its logits at a temperature) and keeps every node's q, for a verifier that
 * accepts a sampled child with min(1, p/q) and samples the residual, which keeps sampling
 * lossless. `distributions` holds q of growth node n at `n * vocabSize`, preallocated for
 * `maxNodes` nodes.
 */
export class DraftSampler {
  /** q of each expanded growth node, `maxNodes` x `vocabSize`. */
  readonly distributions: Float32Array;
  private readonly vocabSize: number;
  private readonly inverseTemperature: number;
  private readonly seed: number;
  private readonly rng: Xoshiro128;

  constructor(sampling: DraftSampling, growth: TreeGrowth, vocabSize: number) {
    if (growth.prunes)
      throw new ContractError('sampled draft trees need a growth that keeps every node (a static shape)');
    const temperature = requireNumber('sample.temperature', sampling.temperature, {
      min: 0,
      minExclusive: true,
    });
    this.seed = requireInteger('sample.seed', sampling.seed ?? 0, 0, 0xffffffff);
    this.rng = new Xoshiro128(this.seed);
    this.inverseTemperature = 1 / temperature;
    this.vocabSize = vocabSize;
    this.distributions = new Float32Array(growth.maxNodes * vocabSize);
  }

  /**
   * Restarts the draws: from a generation's sampling seed (decorrelated from the verifier's
   * stream by a constant), or from the configured seed without one.
   */
  reseed(seed?: number): void {
    this.rng.seed(seed === undefined ? this.seed : (seed ^ 0x5bd1e995) >>> 0);
  }

  /** Sets q of growth node `node` from row `row` of `logits` (`rows` x `vocabSize`). */
  setDistribution(node: number, logits: Float32Array, row: number): void {
    const vocab = this.vocabSize;
    const q = this.distributions;
    const at = node * vocab;
    const from = row * vocab;
    const inv = this.inverseTemperature;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (logits[from + i] > max) max = logits[from + i];
    let sum = 0;
    for (let i = 0; i < vocab; i++) {
      const e = Math.exp((logits[from + i] - max) * inv);
      q[at + i] = e;
      sum += e;
    }
    for (let i = 0; i < vocab; i++) q[at + i] /= sum;
  }

  /** Draws one token from q of `node` (set by {@link DraftSampler.setDistribution}). */
  draw(node: number): number {
    const vocab = this.vocabSize;
    const q = this.distributions;
    const at = node * vocab;
    const u = this.rng.nextFloat();
    let cumulative = 0;
    for (let i = 0; i < vocab; i++) {
      cumulative += q[at + i];
      if (u < cumulative) return i;
    }
    // Rounding left u above the total: the last token q can draw.
    let last = vocab - 1;
    while (last > 0 && q[at + last] === 0) last--;
    return last;
  }

  /** log q(token) at `node`. */
  logProbability(node: number, token: number): number {
    return Math.log(this.distributions[node * this.vocabSize + token]);
  }
}
