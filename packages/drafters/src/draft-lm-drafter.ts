import {
  ContractError,
  type DraftContext,
  type DraftModel,
  type DraftModelStep,
  type DraftTree,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  requireInteger,
  requireNumber,
  type TreeGrowth,
  Xoshiro128,
} from '@treespec/core';
import { type CommitRows, ModelTreeDrafter } from './model-tree-drafter.js';

/** Options of {@link DraftLmDrafter}. */
export interface DraftLmDrafterOptions {
  /** The shape of the trees; default a dynamic tree (EAGLE-2's rule with the draft LM) from `tree`. */
  growth?: TreeGrowth;
  /** Dynamic-tree budget when no `growth` is given. Defaults: core's `DYNAMIC_TREE_DEFAULTS`. */
  tree?: DynamicTreeOptions;
  /**
   * Draw each node's children i.i.d. from the draft distribution at this temperature instead of
   * taking its top-k, making `sampled` trees for lossless verification with min(1, p/q). Needs a
   * growth that keeps every node (a static shape or a chain). Sampled trees accept more under
   * sampling when the draft LM is close to the target; greedy decoding wants top-k.
   */
  sample?: { temperature: number; seed?: number };
}

const EMPTY = new Float32Array(0);

/**
 * Classic draft-model speculative decoding, grown into trees: an independent small LM with the
 * target's tokenizer proposes a chain, a static tree or a dynamic tree (top-k expansion by
 * cumulative log-probability, as EAGLE-2 does with its head). Its KV cache follows the committed
 * tokens: each step it commits the tokens added since the last one (the accepted path and the
 * bonus), and the draft rows of the previous round are dropped.
 */
export class DraftLmDrafter extends ModelTreeDrafter {
  readonly name = 'draft-lm';
  readonly needsFeatures = false;
  private readonly sample: { temperature: number; rng: Xoshiro128; seed: number } | null;
  private readonly distributions: Float32Array | null;

  constructor(model: DraftModel, options: DraftLmDrafterOptions = {}) {
    const growth = options.growth ?? new DynamicTreeGrowth(options.tree);
    super(model, growth);
    if (model.featureSize !== 0)
      throw new ContractError('a draft LM takes no features; this model has a hidden size');
    if (options.sample) {
      if (growth.prunes)
        throw new ContractError('sampled draft trees need a growth that keeps every node (a static shape)');
      const temperature = requireNumber('sample.temperature', options.sample.temperature, {
        min: 0,
        minExclusive: true,
      });
      const seed = requireInteger('sample.seed', options.sample.seed ?? 0, 0, 0xffffffff);
      this.sample = { temperature, seed, rng: new Xoshiro128(seed) };
      this.distributions = new Float32Array(growth.maxNodes * model.vocabSize);
    } else {
      this.sample = null;
      this.distributions = null;
    }
  }

  override reset(seed?: number): void {
    super.reset();
    // A generation's sampling seed gives the draws their own stream (decorrelated from the
    // verifier's by a constant); without one, the configured seed.
    this.sample?.rng.seed(seed === undefined ? this.sample.seed : (seed ^ 0x5bd1e995) >>> 0);
  }

  protected rowsToCommit(context: DraftContext): CommitRows | null {
    const done = this.model.committedRows;
    if (done > context.length)
      throw new ContractError('the draft LM holds more tokens than were committed; reset() it first');
    return {
      tokens: context.tokens.subarray(done, context.length),
      features: EMPTY,
      rows: context.length - done,
    };
  }

  protected override addChildren(node: number, step: DraftModelStep, row: number, source: number): void {
    if (!this.sample) {
      super.addChildren(node, step, row, source);
      return;
    }
    if (!step.logits) throw new ContractError('sampled drafting needs the draft model’s full logits');
    const vocab = this.model.vocabSize;
    const q = (this.distributions as Float32Array).subarray(node * vocab, (node + 1) * vocab);
    const inv = 1 / this.sample.temperature;
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) max = Math.max(max, step.logits[row * vocab + i] * inv);
    let sum = 0;
    for (let i = 0; i < vocab; i++) {
      const e = Math.exp(step.logits[row * vocab + i] * inv - max);
      q[i] = e;
      sum += e;
    }
    for (let i = 0; i < vocab; i++) q[i] /= sum;
    const { growth } = this;
    for (let r = growth.childrenWanted(node); r > 0; r--) {
      const u = this.sample.rng.nextFloat();
      let token = vocab - 1;
      let cumulative = 0;
      for (let i = 0; i < vocab; i++) {
        cumulative += q[i];
        if (u < cumulative) {
          token = i;
          break;
        }
      }
      growth.addChild(node, token, Math.log(q[token]));
    }
  }

  protected override finishTree(tree: DraftTree): void {
    if (!this.sample) return;
    tree.candidateKind = 'sampled';
    tree.draftDistributions = this.distributions;
  }
}
