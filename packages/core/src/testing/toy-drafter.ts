import type { DraftTree } from '../draft-tree.js';
import type { DraftContext, Drafter } from '../drafter.js';
import { ContractError } from '../errors.js';
import { logSumExp, topK } from '../top-k.js';
import type { TreeGrowth } from '../tree-growth.js';
import { mix32, unit } from './hash.js';
import { ToyLanguageModel } from './toy-model.js';
import type { ToyTarget } from './toy-target.js';

/**
 * How good a toy drafter is:
 * - `perfect`: drafts from the target's own distribution;
 * - `mixed`: from `(1 - noise) * target + noise * another model` logits;
 * - `random`: from fresh random logits every call;
 * - `adversarial`: from the negated target logits (the target's least likely tokens first).
 */
export type ToyDraftQuality =
  | { kind: 'perfect' }
  | { kind: 'mixed'; noise: number; seed?: number }
  | { kind: 'random'; seed?: number }
  | { kind: 'adversarial' };

/** Options of {@link ToyDrafter}. */
export interface ToyDrafterOptions {
  /** The target it drafts for (its model is the reference for `quality`). */
  target: ToyTarget;
  /** The shape of the trees it grows. */
  growth: TreeGrowth;
  /** Default `perfect`. */
  quality?: ToyDraftQuality;
  /**
   * Ask for target features and check each row against what the toy target exports for that
   * position; a mismatch throws. Tests the loop's feature plumbing.
   */
  checkFeatures?: boolean;
  /**
   * Draw each node's children from the draft distribution at this temperature instead of taking
   * the top tokens: i.i.d., making a `sampled` tree, or with `distinct` without replacement,
   * making a `sampled-distinct` one. Needs a growth that keeps every node.
   */
  sample?: ToyDraftSampling;
}

/** How a {@link ToyDrafter} samples its trees. */
export interface ToyDraftSampling {
  temperature: number;
  seed: number;
  /** Draw each node's children without replacement (default: i.i.d.). */
  distinct?: boolean;
  /**
   * Draft over these tokens only, a reduced draft vocabulary (distinct ids): the draft
   * distribution is 0 off them, and the trees name them as their `draftSupport`.
   */
  support?: readonly number[];
}

/** A {@link Drafter} over the toy model, of controllable quality and any tree shape. */
export class ToyDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  private readonly target: ToyTarget;
  private readonly growth: TreeGrowth;
  private readonly quality: ToyDraftQuality;
  private readonly other: ToyLanguageModel | null;
  /** `sample.support` as the trees carry it; null for the whole vocabulary. */
  private readonly support: Int32Array | null;
  /** 1 at the tokens of `support`. */
  private readonly supported: Uint8Array | null;
  private readonly frontier: Int32Array;
  private readonly logits: Float64Array;
  private readonly otherLogits: Float64Array;
  private readonly ctx: Int32Array;
  private readonly idx: Int32Array;
  private readonly val: Float64Array;
  private readonly expected: Float32Array;
  private readonly sample: ToyDraftSampling | null;
  private readonly distributions: Float32Array | null;
  private draws = 0;
  private calls = 0;
  /** Feature rows checked so far (when `checkFeatures`). */
  featureRowsChecked = 0;

  constructor(options: ToyDrafterOptions) {
    this.target = options.target;
    this.growth = options.growth;
    this.quality = options.quality ?? { kind: 'perfect' };
    this.name = `toy-${this.quality.kind}`;
    this.needsFeatures = options.checkFeatures === true;
    this.maxTreeSize = this.growth.maxTreeSize;
    const model = this.target.model;
    const q = this.quality;
    this.other =
      q.kind === 'mixed'
        ? new ToyLanguageModel({ vocabSize: model.vocabSize, order: model.order, seed: q.seed ?? 977 })
        : null;
    this.frontier = new Int32Array(this.growth.maxFrontier);
    this.logits = new Float64Array(model.vocabSize);
    this.otherLogits = new Float64Array(model.vocabSize);
    this.ctx = new Int32Array(model.order);
    this.idx = new Int32Array(model.vocabSize);
    this.val = new Float64Array(model.vocabSize);
    this.expected = new Float32Array(Math.max(1, this.target.featureSize));
    this.sample = options.sample ?? null;
    this.support = this.sample?.support ? Int32Array.from(this.sample.support) : null;
    this.supported = this.support ? new Uint8Array(model.vocabSize) : null;
    if (this.support) for (const token of this.support) this.supported![token] = 1;
    if (this.sample && this.growth.prunes) {
      throw new ContractError('sampled candidates need a tree growth that keeps every node (a static shape)');
    }
    this.distributions = this.growth.prunes ? null : new Float32Array(this.growth.maxNodes * model.vocabSize);
  }

  reset(): void {
    this.calls = 0;
  }

  propose(context: DraftContext, tree: DraftTree): void {
    if (this.needsFeatures) this.checkFeatureRows(context);
    const model = this.target.model;
    const vocab = model.vocabSize;
    const growth = this.growth;
    growth.begin(context.tokens[context.length - 1]);
    for (let n = growth.nextFrontier(this.frontier); n > 0; n = growth.nextFrontier(this.frontier)) {
      for (let f = 0; f < n; f++) {
        const node = this.frontier[f];
        const hash = this.nodeHash(context, node);
        this.draftLogits(hash);
        if (this.support) this.keepSupport();
        if (this.sample) this.drawChildren(node);
        else {
          const lse = logSumExp(this.logits, 0, vocab);
          const count = topK(this.logits, 0, vocab, growth.childrenWanted(node), this.idx, this.val);
          for (let r = 0; r < count; r++) growth.addChild(node, this.idx[r], this.val[r] - lse);
        }
        if (this.distributions) this.writeDistribution(node, this.sample?.temperature ?? 1);
      }
      this.calls++;
    }
    growth.finish(tree);
    if (this.distributions) tree.draftDistributions = this.distributions;
    if (this.sample) tree.candidateKind = this.sample.distinct ? 'sampled-distinct' : 'sampled';
    if (this.sample) tree.draftSupport = this.support;
  }

  /**
   * Draws the node's children from softmax(logits / temperature): i.i.d., or without replacement
   * (each from the distribution without the earlier draws, renormalised) when `distinct`.
   */
  private drawChildren(node: number): void {
    const vocab = this.target.model.vocabSize;
    const { temperature, seed, distinct = false } = this.sample!;
    const lse = logSumExp(this.scaled(temperature), 0, vocab);
    const drawn: number[] = [];
    let drawnMass = 0;
    const drawable = this.support?.length ?? vocab;
    for (let r = this.growth.childrenWanted(node); r > 0 && drawn.length < drawable; r--) {
      // The draw counter runs across generations: each generation draws fresh children.
      const u = unit(mix32(mix32(seed) ^ Math.imul(++this.draws, 0x9e3779b1))) * (1 - drawnMass);
      let cumulative = 0;
      let token = -1;
      for (let v = 0; v < vocab; v++) {
        const p = Math.exp(this.otherLogits[v] - lse);
        if (drawn.includes(v) || !(p > 0)) continue;
        cumulative += p;
        token = v;
        if (u < cumulative) break;
      }
      if (distinct) {
        drawn.push(token);
        drawnMass += Math.exp(this.otherLogits[token] - lse);
      }
      this.growth.addChild(node, token, this.otherLogits[token] - lse);
    }
  }

  /** Sets the draft logits of the tokens off the support to -Infinity (draft probability 0). */
  private keepSupport(): void {
    const logits = this.logits;
    for (let v = 0; v < logits.length; v++) if (!this.supported![v]) logits[v] = Number.NEGATIVE_INFINITY;
  }

  /** Writes softmax(logits / temperature) as the node's draft distribution row. */
  private writeDistribution(node: number, temperature: number): void {
    const vocab = this.target.model.vocabSize;
    const lse = logSumExp(this.scaled(temperature), 0, vocab);
    for (let v = 0; v < vocab; v++)
      this.distributions![node * vocab + v] = Math.exp(this.otherLogits[v] - lse);
  }

  /** The draft logits divided by `temperature`, in the second scratch row. */
  private scaled(temperature: number): Float64Array {
    for (let v = 0; v < this.logits.length; v++) this.otherLogits[v] = this.logits[v] / temperature;
    return this.otherLogits;
  }

  private nodeHash(context: DraftContext, node: number): number {
    const order = this.target.model.order;
    const ctx = this.ctx;
    let n = 0;
    for (let g = node; g >= 0 && n < order; g = this.growth.parentOf(g))
      ctx[order - 1 - n++] = this.growth.tokenOf(g);
    for (let c = context.length - 2; c >= 0 && n < order; c--) ctx[order - 1 - n++] = context.tokens[c];
    return this.target.model.contextHash(ctx.subarray(order - n, order), n);
  }

  private draftLogits(hash: number): void {
    const model = this.target.model;
    const q = this.quality;
    model.logitsForHash(hash, this.logits, 0);
    if (q.kind === 'adversarial') {
      for (let v = 0; v < model.vocabSize; v++) this.logits[v] = -this.logits[v];
    } else if (q.kind === 'mixed' && this.other) {
      this.other.logitsForHash(hash, this.otherLogits, 0);
      for (let v = 0; v < model.vocabSize; v++) {
        this.logits[v] = (1 - q.noise) * this.logits[v] + q.noise * this.otherLogits[v];
      }
    } else if (q.kind === 'random') {
      model.logitsForHash(mix32(hash ^ mix32((q.seed ?? 3) + this.calls)), this.logits, 0);
    }
  }

  private checkFeatureRows(context: DraftContext): void {
    const size = this.target.featureSize;
    if (context.featureRows > 0 && !context.features)
      throw new ContractError('feature rows announced but no features given');
    for (let r = 0; r < context.featureRows; r++) {
      const position = context.featureStart + r;
      const hash = this.target.model.contextHash(context.tokens, position + 1);
      this.target.featureFor(hash, this.expected, 0);
      for (let j = 0; j < size; j++) {
        if (context.features![r * size + j] !== this.expected[j]) {
          throw new ContractError(`feature row for position ${position} does not match the target's`);
        }
      }
      this.featureRowsChecked++;
    }
    if (context.featureRows > 0 && context.featureStart + context.featureRows !== context.length - 1) {
      throw new ContractError(
        `feature rows end at position ${context.featureStart + context.featureRows - 1}, expected ${context.length - 2}`,
      );
    }
  }
}
