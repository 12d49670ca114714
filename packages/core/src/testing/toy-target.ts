import type { DraftTree } from '../draft-tree.js';
import { ContextOverflowError, ContractError } from '../errors.js';
import type { KeepPlan } from '../keep-plan.js';
import type { TargetCallOptions, TargetModel, TargetStep } from '../target-model.js';
import { argmax } from '../top-k.js';
import { requireInteger } from '../validate.js';
import { mix32, unit } from './hash.js';
import type { ToyLanguageModel } from './toy-model.js';

/** Options of {@link ToyTarget}. */
export interface ToyTargetOptions {
  /** Context window. Default 4096. */
  maxContext?: number;
  /** Width of the fake feature rows; 0 exports none. Default 0. */
  featureSize?: number;
  /**
   * Return each row's greedy token and logit sum in place of the logits when a verification asks
   * (`greedy`), as an ONNX target with in-graph greedy outputs does. Default false.
   */
  greedyTokens?: boolean;
}

/**
 * A {@link TargetModel} over a {@link ToyLanguageModel}, with the same contract as an ONNX
 * target: a "KV cache" of processed tokens, tree verification and path commits. Its features
 * are a deterministic function of the context up to each row, so feature plumbing can be checked.
 */
export class ToyTarget implements TargetModel {
  readonly model: ToyLanguageModel;
  readonly vocabSize: number;
  readonly featureSize: number;
  readonly maxContext: number;
  readonly greedyTokens: boolean;
  /** Number of `verify` calls since construction. */
  verifyCalls = 0;
  /** Number of `prefill` calls since construction. */
  prefillCalls = 0;
  /** When set, the logits of this verify call (0-based) contain a NaN at node 0. */
  nanOnVerifyCall = -1;
  private readonly cache: Int32Array;
  private cached = 0;
  private logitsBuffer = new Float32Array(0);
  private featureBuffer = new Float32Array(0);
  private tokenBuffer = new Int32Array(0);
  private sumBuffer = new Float32Array(0);
  private readonly scratch: Int32Array;
  private lastTree: DraftTree | null = null;

  constructor(model: ToyLanguageModel, options: ToyTargetOptions = {}) {
    this.model = model;
    this.vocabSize = model.vocabSize;
    this.maxContext = requireInteger('maxContext', options.maxContext ?? 4096, 1);
    this.featureSize = requireInteger('featureSize', options.featureSize ?? 0, 0);
    this.greedyTokens = options.greedyTokens ?? false;
    this.cache = new Int32Array(this.maxContext);
    this.scratch = new Int32Array(model.order);
  }

  get cachedLength(): number {
    return this.cached;
  }

  /** The committed tokens the cache holds. */
  cachedTokens(): Int32Array {
    return this.cache.slice(0, this.cached);
  }

  reset(): void {
    this.cached = 0;
    this.lastTree = null;
  }

  async prefill(tokens: Int32Array, options?: TargetCallOptions): Promise<TargetStep> {
    this.prefillCalls++;
    if (this.cached + tokens.length > this.maxContext) {
      throw new ContextOverflowError(this.cached + tokens.length, this.maxContext, 'the prefill');
    }
    const rows = tokens.length;
    this.ensure(rows);
    for (let r = 0; r < rows; r++) {
      this.cache[this.cached] = tokens[r];
      this.cached++;
      this.model.logits(this.cache, this.cached, this.logitsBuffer, r * this.vocabSize);
      if (options?.features) this.writeFeature(this.model.contextHash(this.cache, this.cached), r);
    }
    this.lastTree = null;
    return this.step(rows, options);
  }

  async verify(tree: DraftTree, options?: TargetCallOptions): Promise<TargetStep> {
    if (this.cached + tree.size > this.maxContext) {
      throw new ContextOverflowError(
        this.cached + tree.size,
        this.maxContext,
        `a tree of ${tree.size} nodes`,
      );
    }
    const call = this.verifyCalls++;
    const rows = tree.size;
    this.ensure(rows);
    const order = this.model.order;
    const ctx = this.scratch;
    for (let i = 0; i < rows; i++) {
      // The last `order` tokens of (cache + path to node i), oldest first.
      let n = 0;
      for (let node = i; node >= 0 && n < order; node = tree.parents[node])
        ctx[order - 1 - n++] = tree.tokens[node];
      for (let c = this.cached - 1; c >= 0 && n < order; c--) ctx[order - 1 - n++] = this.cache[c];
      const window = ctx.subarray(order - n, order);
      const hash = this.model.contextHash(window, n);
      this.model.logitsForHash(hash, this.logitsBuffer, i * this.vocabSize);
      if (options?.features) this.writeFeature(hash, i);
    }
    if (call === this.nanOnVerifyCall) this.logitsBuffer[0] = Number.NaN;
    this.lastTree = tree;
    if (this.greedyTokens && options?.greedy) return this.greedyStep(rows, options);
    return this.step(rows, options);
  }

  commit(plan: KeepPlan): void {
    const tree = this.lastTree;
    if (!tree) throw new ContractError('commit() needs a verify() first');
    if (this.cached + plan.count > this.maxContext) {
      throw new ContextOverflowError(this.cached + plan.count, this.maxContext, 'the commit');
    }
    for (let k = 0; k < plan.count; k++) this.cache[this.cached++] = tree.tokens[plan.slots[k]];
    this.lastTree = null;
  }

  /** The feature row the target exports for a context with this hash. */
  featureFor(hash: number, out: Float32Array, offset: number): void {
    for (let j = 0; j < this.featureSize; j++)
      out[offset + j] = Math.fround(unit(mix32(hash ^ Math.imul(j + 7, 0x2545f491))) - 0.5);
  }

  private writeFeature(hash: number, row: number): void {
    this.featureFor(hash, this.featureBuffer, row * this.featureSize);
  }

  /** Each row's first largest logit and logit sum, in place of the logits. */
  private greedyStep(rows: number, options: TargetCallOptions): TargetStep {
    if (this.tokenBuffer.length < rows) {
      this.tokenBuffer = new Int32Array(rows * 2);
      this.sumBuffer = new Float32Array(rows * 2);
    }
    const vocab = this.vocabSize;
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let v = r * vocab; v < (r + 1) * vocab; v++) sum += this.logitsBuffer[v] as number;
      this.tokenBuffer[r] = argmax(this.logitsBuffer, r * vocab, vocab);
      this.sumBuffer[r] = sum;
    }
    return {
      ...this.step(rows, options),
      logits: new Float32Array(0),
      greedyTokens: this.tokenBuffer.subarray(0, rows),
      logitSums: this.sumBuffer.subarray(0, rows),
    };
  }

  private ensure(rows: number): void {
    if (this.logitsBuffer.length < rows * this.vocabSize)
      this.logitsBuffer = new Float32Array(rows * this.vocabSize * 2);
    if (this.featureBuffer.length < rows * this.featureSize)
      this.featureBuffer = new Float32Array(rows * this.featureSize * 2);
  }

  private step(rows: number, options?: TargetCallOptions): TargetStep {
    return {
      rows,
      logits: this.logitsBuffer.subarray(0, rows * this.vocabSize),
      features:
        options?.features && this.featureSize > 0
          ? this.featureBuffer.subarray(0, rows * this.featureSize)
          : null,
    };
  }
}
