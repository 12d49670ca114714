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
  /**
   * A fixed temperature of the draft distribution q the children are drawn from (> 0). Default:
   * each generation's own, the temperature the target samples at (1 for a generation that names
   * none), so that q sharpens with the target's distribution p and the draws stay likely under it.
   */
  temperature?: number;
  /** Seed of the draws when a generation brings none; default 0. */
  seed?: number;
}

/**
 * Draws a node's children from the draft distribution q of the model row that scored it (the
 * softmax of its logits at a temperature) without replacement, each from q with the node's earlier
 * children removed and the rest renormalised, and keeps every node's q, for a verifier that
 * accepts the k-th child with min(1, p/q_k) and samples the residual (`sampled-distinct` trees),
 * which keeps sampling lossless while no node repeats a sibling's token. `distributions` holds q
 * of growth node n over the whole vocabulary at `n * vocabSize`, preallocated for `maxNodes`
 * nodes.
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
  /** Target id of each column of the q set last (null: the whole vocabulary): q's support. */
  private columns: Int32Array | null;
  /** Per node, the columns its q row was last written over (undefined: never). */
  private readonly rowColumns: (Int32Array | null | undefined)[];
  /** The columns a model named last, checked ({@link DraftSampler.setProbabilities}). */
  private checkedColumns: Int32Array | null = null;
  /** Zeroed scratch of that check: 1 at the ids seen so far. */
  private readonly seenIds: Uint8Array;
  /** The configured fixed temperature; NaN to follow each generation's. */
  private readonly fixedTemperature: number;
  private inverseTemperature = 1;
  private readonly seed: number;
  private readonly rng: Xoshiro128;
  /** 1 at the target ids drawn from the current node's q so far. */
  private readonly drawnMark: Uint8Array;
  /** The current node's draws, in order. */
  private readonly drawnTokens: Int32Array;
  private drawnCount = 0;
  /** q's mass on the current node's draws (summed as the verifier sums it). */
  private drawnMass = 0;
  /** The node whose q was set last: the one being drawn from. */
  private node = -1;

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
    this.fixedTemperature =
      sampling.temperature === undefined
        ? Number.NaN
        : requireDrawTemperature('sample.temperature', sampling.temperature);
    if (!Number.isNaN(this.fixedTemperature)) this.inverseTemperature = 1 / this.fixedTemperature;
    this.seed = requireInteger('sample.seed', sampling.seed ?? 0, 0, 0xffffffff);
    this.rng = new Xoshiro128(this.seed);
    this.vocabSize = vocabSize;
    if (draftTokenIds) requireDistinctIds(draftTokenIds, vocabSize);
    this.tokenIds = draftTokenIds;
    this.columns = draftTokenIds;
    this.width = draftTokenIds ? draftTokenIds.length : vocabSize;
    this.rowColumns = new Array(growth.maxNodes);
    this.distributions = new Float32Array(growth.maxNodes * vocabSize);
    this.drawnMark = new Uint8Array(vocabSize);
    this.seenIds = new Uint8Array(vocabSize);
    this.drawnTokens = new Int32Array(growth.maxChildren);
  }

  /**
   * The tokens q can weigh (the target ids of the columns it was last set over: the draft
   * vocabulary's, or the model's `probabilityIds`); null for the whole vocabulary.
   */
  get support(): Int32Array | null {
    return this.columns;
  }

  /**
   * Restarts the draws for a generation: from its sampling seed (decorrelated from the verifier's
   * stream by a constant), or from the configured seed without one; and, unless a fixed
   * temperature was configured, at the generation's temperature (1 without one).
   */
  restart(seed?: number, temperature?: number): void {
    this.rng.seed(seed === undefined ? this.seed : (seed ^ 0x5bd1e995) >>> 0);
    if (!Number.isNaN(this.fixedTemperature)) return;
    this.inverseTemperature =
      1 / (temperature === undefined ? 1 : requireDrawTemperature('temperature', temperature));
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
    this.startRow(node, tokenIds);
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

  /** Whether q is the draft model's distribution at temperature 1, which a model may compute itself. */
  get unitTemperature(): boolean {
    return this.inverseTemperature === 1;
  }

  /**
   * Sets q of growth node `node` from row `row` of `probabilities`, the draft model's distribution
   * at temperature 1 computed by the model: over the columns of the logits
   * {@link DraftSampler.setDistribution} takes, or over `ids` (target ids, distinct, below the
   * vocabulary's size: a model that also scores tokens of the generation's context), which then
   * become q's support. Only the normalisation is taken again, so that q sums to 1 as the verifier
   * sums it.
   * @throws ContractError when q is not drawn at temperature 1 ({@link DraftSampler.unitTemperature}),
   * or for `ids` that repeat or fall outside the vocabulary (checked once per array).
   */
  setProbabilities(
    node: number,
    probabilities: Float32Array,
    row: number,
    ids: Int32Array | null = this.tokenIds,
  ): void {
    if (!this.unitTemperature)
      throw new ContractError(
        `a draft model's probabilities are its distribution at temperature 1; q is drawn at ${1 / this.inverseTemperature}`,
      );
    if (ids && ids !== this.tokenIds && ids !== this.checkedColumns) {
      requireDistinctIds(ids, this.vocabSize, this.seenIds);
      this.checkedColumns = ids;
    }
    const width = ids ? ids.length : this.vocabSize;
    const q = this.distributions;
    const at = node * this.vocabSize;
    const from = row * width;
    this.startRow(node, ids);
    let sum = 0;
    for (let i = 0; i < width; i++) sum += probabilities[from + i];
    const inverse = 1 / sum;
    if (ids) {
      for (let d = 0; d < width; d++) q[at + ids[d]] = probabilities[from + d] * inverse;
      return;
    }
    for (let i = 0; i < width; i++) q[at + i] = probabilities[from + i] * inverse;
  }

  /**
   * Starts `node`'s q row over `columns` (target ids; null: the whole vocabulary), which become
   * the support: where the row was last written over other columns, those entries are cleared
   * first, so q stays 0 off its support.
   */
  private startRow(node: number, columns: Int32Array | null): void {
    this.startNode(node);
    this.columns = columns;
    const last = this.rowColumns[node];
    if (last !== undefined && last !== columns) {
      const at = node * this.vocabSize;
      if (last === null) this.distributions.fill(0, at, at + this.vocabSize);
      else for (let d = 0; d < last.length; d++) this.distributions[at + last[d]] = 0;
    }
    this.rowColumns[node] = columns;
  }

  /** Forgets the previous node's draws: the next ones come from `node`'s q. */
  private startNode(node: number): void {
    for (let i = 0; i < this.drawnCount; i++) this.drawnMark[this.drawnTokens[i]] = 0;
    this.drawnCount = 0;
    this.drawnMass = 0;
    this.node = node;
  }

  /**
   * Draws the next child of `node` (whose q {@link DraftSampler.setDistribution} set last) from q
   * without the tokens drawn for it before, renormalised; a target id, or -1 once q has no mass
   * left off those tokens.
   */
  draw(node: number): number {
    if (node !== this.node)
      throw new ContractError(`draws for node ${node} follow the distribution of node ${this.node}`);
    const { columns, drawnMark } = this;
    const width = columns ? columns.length : this.vocabSize;
    if (this.drawnCount === this.drawnTokens.length) return -1;
    const q = this.distributions;
    const at = node * this.vocabSize;
    const remaining = 1 - this.drawnMass;
    const u = this.rng.nextFloat() * remaining;
    let cumulative = 0;
    let last = -1;
    for (let d = 0; d < width; d++) {
      const token = columns ? columns[d] : d;
      const p = q[at + token];
      if (drawnMark[token] || !(p > 0)) continue;
      cumulative += p;
      last = token;
      if (u < cumulative) break;
    }
    // Past the loop without a break, rounding left u above the total: the last token q can draw.
    if (last >= 0) {
      drawnMark[last] = 1;
      this.drawnTokens[this.drawnCount++] = last;
      this.drawnMass += q[at + last];
    }
    return last;
  }

  /** log q(token) at `node`. */
  logProbability(node: number, token: number): number {
    return Math.log(this.distributions[node * this.vocabSize + token]);
  }
}

/** A draft distribution's temperature: a finite number above 0. */
function requireDrawTemperature(name: string, temperature: number): number {
  return requireNumber(name, temperature, { min: 0, minExclusive: true });
}

/** Checks that a draft vocabulary's target ids are distinct and below `vocabSize`. */
function requireDistinctIds(
  ids: Int32Array,
  vocabSize: number,
  seen: Uint8Array = new Uint8Array(vocabSize),
): void {
  try {
    for (let d = 0; d < ids.length; d++) {
      const id = ids[d];
      if (!(id >= 0 && id < vocabSize) || seen[id]) {
        throw new ContractError(
          `draft token ${d} maps to target id ${id}, which is ${seen[id] ? 'taken by another draft token' : `outside the vocabulary [0, ${vocabSize})`}`,
        );
      }
      seen[id] = 1;
    }
  } finally {
    for (let d = 0; d < ids.length; d++) if (ids[d] >= 0 && ids[d] < vocabSize) seen[ids[d]] = 0;
  }
}
