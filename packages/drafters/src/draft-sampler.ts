import {
  ContractError,
  expNonPositive,
  requireInteger,
  requireNumber,
  type TreeGrowth,
  Xoshiro128,
} from '@treespec/core';

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
 * lossless. `distributions` holds q of growth node n over the whole vocabulary at
 * `n * vocabSize`, preallocated for `maxNodes` nodes.
 *
 * Logits over a reduced draft vocabulary (FR-Spec, EAGLE-3's `d2t`: column d stands for target
 * token `draftTokenIds[d]`) give q over the draft tokens, written at their target ids; the other
 * tokens' entries are never written, so they stay 0, which is what the verifier needs (q is the
 * distribution the children were drawn from). Each node costs the draft vocabulary's size.
 */
export class DraftSampler {
  /** q of each expanded growth node, `maxNodes` x `vocabSize`. */
  readonly distributions: Float32Array;
  private readonly vocabSize: number;
  /** Target id of each logit column; null when the logits cover the whole vocabulary. */
  private readonly tokenIds: Int32Array | null;
  /** Logits per row: the draft vocabulary's size, or `vocabSize`. */
  private readonly width: number;
  private readonly inverseTemperature: number;
  private readonly seed: number;
  private readonly rng: Xoshiro128;

  /**
   * @param draftTokenIds the target ids of the logits' columns for a reduced draft vocabulary
   * (distinct, below `vocabSize`); null when the logits cover the whole vocabulary.
   * @throws ContractError for a growth that prunes, or draft token ids out of range or repeated.
   */
  constructor(
    sampling: DraftSampling,
    growth: TreeGrowth,
    vocabSize: number,
    draftTokenIds: Int32Array | null = null,
  ) {
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
    if (draftTokenIds) requireDistinctIds(draftTokenIds, vocabSize);
    this.tokenIds = draftTokenIds;
    this.width = draftTokenIds ? draftTokenIds.length : vocabSize;
    this.distributions = new Float32Array(growth.maxNodes * vocabSize);
  }

  /**
   * Restarts the draws: from a generation's sampling seed (decorrelated from the verifier's
   * stream by a constant), or from the configured seed without one.
   */
  reseed(seed?: number): void {
    this.rng.seed(seed === undefined ? this.seed : (seed ^ 0x5bd1e995) >>> 0);
  }

  /**
   * Sets q of growth node `node` from row `row` of `logits`: `rows` x `vocabSize`, or
   * `rows` x the draft vocabulary's size.
   */
  setDistribution(node: number, logits: Float32Array, row: number): void {
    const { width, tokenIds } = this;
    const q = this.distributions;
    const at = node * this.vocabSize;
    const from = row * width;
    const inv = this.inverseTemperature;
    let max = -Infinity;
    for (let i = 0; i < width; i++) if (logits[from + i] > max) max = logits[from + i];
    let sum = 0;
    if (tokenIds) {
      for (let d = 0; d < width; d++) {
        const e = expNonPositive((logits[from + d] - max) * inv);
        q[at + tokenIds[d]] = e;
        sum += e;
      }
      for (let d = 0; d < width; d++) q[at + tokenIds[d]] /= sum;
      return;
    }
    for (let i = 0; i < width; i++) {
      const e = expNonPositive((logits[from + i] - max) * inv);
      q[at + i] = e;
      sum += e;
    }
    for (let i = 0; i < width; i++) q[at + i] /= sum;
  }

  /** Draws one token from q of `node` (set by {@link DraftSampler.setDistribution}); a target id. */
  draw(node: number): number {
    const { width, tokenIds } = this;
    const q = this.distributions;
    const at = node * this.vocabSize;
    const u = this.rng.nextFloat();
    let cumulative = 0;
    for (let d = 0; d < width; d++) {
      const token = tokenIds ? tokenIds[d] : d;
      cumulative += q[at + token];
      if (u < cumulative) return token;
    }
    // Rounding left u above the total: the last token q can draw.
    let last = width - 1;
    while (last > 0 && q[at + (tokenIds ? tokenIds[last] : last)] === 0) last--;
    return tokenIds ? tokenIds[last] : last;
  }

  /** log q(token) at `node`. */
  logProbability(node: number, token: number): number {
    return Math.log(this.distributions[node * this.vocabSize + token]);
  }
}

/** Checks that a draft vocabulary's target ids are distinct and below `vocabSize`. */
function requireDistinctIds(ids: Int32Array, vocabSize: number): void {
  const seen = new Uint8Array(vocabSize);
  for (let d = 0; d < ids.length; d++) {
    const id = ids[d];
    if (!(id >= 0 && id < vocabSize) || seen[id]) {
      throw new ContractError(
        `draft token ${d} maps to target id ${id}, which is ${seen[id] ? 'taken by another draft token' : `outside the vocabulary [0, ${vocabSize})`}`,
      );
    }
    seen[id] = 1;
  }
}
