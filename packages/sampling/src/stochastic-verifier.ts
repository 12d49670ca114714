import {
  ContractError,
  type DraftTree,
  type FirstDraws,
  OptionError,
  type Verifier,
  type VerifyInput,
  type VerifyResult,
  Xoshiro128,
} from '@treespec/core';
import { LogitsPipeline } from './logits-pipeline.js';
import { ResidualDistribution } from './residual-distribution.js';
import { checkedToken, childWithToken, followRowTokens } from './row-tokens.js';

import { sampleToken } from './sample.js';
import {
  GREEDY_BELOW,
  type ResolvedSampling,
  resolveSampling,
  type SamplingOptions,
  shapesBeyondTemperature,
} from './sampling-options.js';

/** 2^24: a float32 holds every multiple of its inverse in [0, 1) exactly. */
const FLOAT32_STEPS = 16777216;

/**
 * Lossless stochastic verification of a draft tree: the committed tokens are distributed exactly
 * as if the target had sampled them one by one with the same {@link SamplingOptions}.
 *
 * At each node the target's distribution p (after penalties, temperature, top-k, top-p, min-p,
 * computed for exactly the context plain decoding would have there) decides among the node's
 * children:
 * - deterministic candidates (top-k drafters: EAGLE-2/3, static trees, lookup): the target's own
 *   token x is drawn from p with a uniform that depends on the seed and x's position only; the
 *   child whose token is x is accepted, and when none is, x is the bonus token. A child is thus
 *   accepted with the probability of the sequential scheme (accept c with p(c), on rejection
 *   remove c and renormalise), and the output is, token for token, what plain decoding with the
 *   same seed samples, whatever the tree: seeded generations reproduce whichever drafter or budget
 *   (a budget controller's timing-driven choice included) drafted them;
 * - sampled candidates (drawn i.i.d. from a known draft distribution q, stored in
 *   `tree.draftDistributions`): accept c with probability min(1, p(c) / q(c)); on rejection
 *   replace p by max(p − q, 0), renormalised; when no child is accepted the bonus token is drawn
 *   from what is left of p. Their output depends on the drafts, so it is reproducible for a fixed
 *   drafter and budget only;
 * - distinct sampled candidates (drawn from q without replacement): the same, with the k-th child's
 *   own draft distribution q_k, q with the earlier children removed and renormalised, in place of
 *   q (recursive rejection sampling without replacement, lossless as the i.i.d. scheme is, and no
 *   node is spent on a repeated token, which a rejected token's residual never accepts).
 *
 * With nothing but the temperature shaping the rows and deterministic candidates, a target that
 * draws tokens in its graph can draw each node's token itself ({@link sampleUniforms}): the
 * verifier writes each node's uniforms (its position's uniform, as above, split into two float32
 * ones) and follows the tokens the target drew, so neither the logits nor their softmax reach
 * JavaScript. Plain and speculative decoding then draw every position's token from the same
 * softmax with the same uniforms, and seeded generations still reproduce whichever drafter
 * drafted them (though not the tokens the logits path draws with the same seed: the target draws
 * in two levels). With sampled candidates and nothing but the temperature shaping the rows, a
 * target that also returns each row's softmax weights and their sum ({@link weighsRows}) spares
 * the logits and their softmax in JavaScript the same way: a child is tried on its row's weight
 * over the row's mass, the row is read only after a rejection, and then only over the draft
 * distribution's support when the tree names one (`draftSupport`: a reduced draft vocabulary),
 * and a node without children takes the token the target drew at its position.
 */
export class StochasticVerifier implements Verifier {
  readonly name = 'stochastic';
  readonly sampling: ResolvedSampling;
  private readonly rng: Xoshiro128;
  /** Reseeded per token position for deterministic candidates. */
  private readonly positionRng = new Xoshiro128(0);
  private seedValue: number;
  private pipeline: LogitsPipeline | null = null;
  private probs = new Float64Array(0);
  private residual: ResidualDistribution | null = null;
  /** Whether anything but the temperature shapes a row (then the target cannot draw its tokens). */
  private readonly shaped: boolean;

  constructor(options: SamplingOptions = {}) {
    this.sampling = resolveSampling(options);
    if (this.sampling.temperature === 0) {
      throw new OptionError(
        'temperature',
        options.temperature,
        `at least ${GREEDY_BELOW} for stochastic verification (use GreedyVerifier, or createVerifier, below it)`,
      );
    }
    this.seedValue = this.sampling.seed;
    this.rng = new Xoshiro128(this.seedValue);
    this.shaped = shapesBeyondTemperature(this.sampling);
  }

  /** The seed the next generation starts from. */
  get seed(): number {
    return this.seedValue;
  }

  /** The temperature of the distribution it samples from (above 0). */
  get temperature(): number {
    return this.sampling.temperature;
  }

  /** Changes the seed used from the next `reset()` (i.e. the next generation) on. */
  setSeed(seed: number): void {
    this.rng.seed(seed);
    this.seedValue = seed;
  }

  reset(): void {
    this.rng.seed(this.seedValue);
    this.pipeline?.penalties?.reset();
  }

  sampleUniforms(tree: DraftTree, contextLength: number, out: Float32Array): boolean {
    if (this.shaped || tree.candidateKind !== 'deterministic') return false;
    this.writeUniforms(tree, contextLength, out);
    return true;
  }

  weighsRows(tree: DraftTree, contextLength: number, out: Float32Array): boolean {
    if (this.shaped || tree.candidateKind === 'deterministic') return false;
    this.writeUniforms(tree, contextLength, out);
    return true;
  }

  /** Each node's uniform, its position's (as plain decoding draws it), split into two float32 ones. */
  private writeUniforms(tree: DraftTree, contextLength: number, out: Float32Array): void {
    for (let i = 0; i < tree.size; i++) {
      this.positionRng.seedStream(this.seedValue, contextLength + tree.depths[i]);
      // The position's uniform split into two float32 ones: its first 24 bits and its next 24.
      const scaled = this.positionRng.nextFloat() * FLOAT32_STEPS;
      const first = Math.floor(scaled);
      out[2 * i] = first / FLOAT32_STEPS;
      out[2 * i + 1] = Math.floor((scaled - first) * FLOAT32_STEPS) / FLOAT32_STEPS;
    }
  }

  verify(input: VerifyInput, result: VerifyResult): void {
    const { tree, logits, vocabSize, sampledTokens, logitSums, sampleWeights, sampleMasses } = input;
    if (sampledTokens !== undefined && logitSums !== undefined && sampleWeights && sampleMasses) {
      this.verifyWeighed(input, sampledTokens, logitSums, sampleWeights, sampleMasses, result);
      return;
    }
    if (sampledTokens !== undefined && logitSums !== undefined) {
      followRowTokens(tree, sampledTokens, logitSums, input.contextLength, result);
      return;
    }
    if (this.pipeline?.vocabSize !== vocabSize) {
      this.pipeline = new LogitsPipeline(vocabSize, this.sampling);
      this.probs = new Float64Array(vocabSize);
    }
    const { pipeline, probs, rng } = this;
    const penalties = pipeline.penalties;
    penalties?.sync(input.context, input.contextLength, input.promptLength);
    const kind = tree.candidateKind;
    const sampled = kind !== 'deterministic';
    const q = sampled ? this.draftRows(tree, vocabSize) : null;
    const residual = sampled ? this.residualFor(tree, vocabSize) : null;
    let node = 0;
    let length = 1;
    result.path[0] = 0;
    while (true) {
      pipeline.distribution(logits, node * vocabSize, input.contextLength - 1 + tree.depths[node], probs);
      let next: number;
      if (residual) {
        residual.begin(probs, 0, 1);
        next = this.trySampled(
          node,
          tree,
          vocabSize,
          residual,
          q as Float32Array,
          kind === 'sampled-distinct',
        );
        if (next < 0) {
          result.bonusToken = residual.rejected ? residual.sample(rng) : sampleToken(probs, vocabSize, rng);
          break;
        }
      } else {
        // The token at this position, drawn as plain decoding would draw it with this seed.
        this.positionRng.seedStream(this.seedValue, input.contextLength + tree.depths[node]);
        const token = sampleToken(probs, vocabSize, this.positionRng);
        next = childWithToken(tree, node, token);
        if (next < 0) {
          result.bonusToken = token;
          break;
        }
      }
      result.path[length++] = next;
      penalties?.push(tree.tokens[next]);
      node = next;
    }
    result.pathLength = length;
    if (penalties) for (let k = length - 1; k >= 1; k--) penalties.pop(tree.tokens[result.path[k]]);
  }

  /**
   * {@link verify} of a tree drawn from a draft distribution, on each row's softmax weights and
   * their sum computed in the target (`sampleWeights`, `sampleMasses`, for the uniforms
   * {@link weighsRows} wrote): a child is tried on its row's weight over the row's mass alone, a
   * rejection reads the row over the draft distribution's support only, and a node without
   * children takes the token the target drew for it at its position, as plain decoding draws it.
   */
  private verifyWeighed(
    input: VerifyInput,
    sampledTokens: Int32Array,
    logitSums: Float32Array,
    weights: Float32Array,
    masses: Float32Array,
    result: VerifyResult,
  ): void {
    const { tree, vocabSize } = input;
    const q = this.draftRows(tree, vocabSize);
    const residual = this.residualFor(tree, vocabSize);
    const distinct = tree.candidateKind === 'sampled-distinct';
    let node = 0;
    let length = 1;
    result.path[0] = 0;
    while (true) {
      const drawn = checkedToken(sampledTokens, logitSums, node, input.contextLength - 1 + tree.depths[node]);
      residual.begin(weights, node * vocabSize, 1 / masses[node]!);
      const next = this.trySampled(node, tree, vocabSize, residual, q, distinct);
      if (next < 0) {
        // Every child rejected: a draw from the residual; no child at all: the token the target drew.
        result.bonusToken = residual.rejected ? residual.sample(this.rng) : drawn;
        break;
      }
      result.path[length++] = next;
      node = next;
    }
    result.pathLength = length;
    firstDrawChances(tree, vocabSize, q, weights, masses, residual, result.firstDraws);
  }

  /** The draft distribution rows of a tree drawn from one, checked to cover every node. */
  private draftRows(tree: DraftTree, vocabSize: number): Float32Array {
    const q = tree.draftDistributions;
    if (!q || q.length < tree.size * vocabSize) {
      throw new ContractError(
        `a sampled draft tree of ${tree.size} nodes needs ${tree.size} draft distribution rows`,
      );
    }
    return q;
  }

  /** The residual of a vocabulary's size, on the support of `tree`'s draft distributions. */
  private residualFor(tree: DraftTree, vocabSize: number): ResidualDistribution {
    if (this.residual?.vocabSize !== vocabSize) this.residual = new ResidualDistribution(vocabSize);
    this.residual.useSupport(tree.draftSupport);
    return this.residual;
  }

  /**
   * Children were drawn from q: accept c with min(1, p(c)/q_c(c)), else p ← norm(max(p − q_c, 0)),
   * where q_c is q for i.i.d. draws and, for draws without replacement (`distinct`), q over the
   * tokens not drawn before c, renormalised. A rejected token's residual is 0, so the earlier
   * children need no masking in the residual: max(0 − q_c, 0) is 0 for them either way. p is the
   * node's `residual`, begun on its row.
   */
  private trySampled(
    node: number,
    tree: DraftTree,
    vocabSize: number,
    residual: ResidualDistribution,
    q: Float32Array,
    distinct: boolean,
  ): number {
    const row = node * vocabSize;
    /** q's mass on the children rejected so far (draws without replacement). */
    let drawn = 0;
    for (let c = node + 1; c < tree.size; c++) {
      if (tree.parents[c] !== node) continue;
      const token = tree.tokens[c];
      const scale = distinct ? 1 / (1 - drawn) : 1;
      const qc = q[row + token] * scale;
      if (!(qc > 0 && Number.isFinite(qc)))
        throw new ContractError(`draft token ${token} at tree node ${c} has draft probability ${qc}`);
      if (!residual.covers(token))
        throw new ContractError(
          `draft token ${token} at tree node ${c} lies outside the tree's draft support`,
        );
      if (this.rng.nextFloat() * qc < residual.probability(token)) return c;
      residual.reject(q, row, scale);
      if (distinct) drawn += q[row + token];
    }
    return -1;
  }
}

/**
 * The chances of `tree`'s chain of first draws (the root's first child, its first child, …) on
 * the rows' softmax weights: each draw's min(1, p/q) and its parent row's Σ min(p, q), where p
 * is the row's weights over their mass and q the distribution the draw came from (its first
 * draw, so q whole), summed over the draft distributions' support (`residual`'s).
 */
function firstDrawChances(
  tree: DraftTree,
  vocabSize: number,
  q: Float32Array,
  weights: Float32Array,
  masses: Float32Array,
  residual: ResidualDistribution,
  out: FirstDraws,
): void {
  let count = 0;
  for (let node = 0, child = tree.firstChild(0); child >= 0; node = child, child = tree.firstChild(child)) {
    const row = node * vocabSize;
    const inverseMass = 1 / masses[node]!;
    const token = tree.tokens[child]!;
    out.ratios[count] = Math.min(1, (weights[row + token]! * inverseMass) / q[row + token]!);
    out.overlaps[count] = residual.overlap(weights, row, inverseMass, q, row);
    count++;
  }
  out.count = count;
}
