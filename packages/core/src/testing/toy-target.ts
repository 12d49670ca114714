import type { DraftTree } from '../draft-tree.js';
import { ContextOverflowError, ContractError } from '../errors.js';
import type { KeepPlan } from '../keep-plan.js';
import type { RowSampling, TargetCallOptions, TargetModel, TargetStep } from '../target-model.js';
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
  /**
   * Return each row's token drawn from its softmax at the call's temperature with the call's
   * uniforms, and logit sums, in place of the logits when a verification asks (`sample`), as an
   * ONNX target with an in-graph sampler does. Default false.
   */
  sampledTokens?: boolean;
  /**
   * With `sampledTokens`: also return each row's softmax weights and their sum in place of the
   * logits when a verification asks (`sample` with `weights`), as an ONNX target with the
   * sampler's weights outputs does. Default false.
   */
  sampleWeights?: boolean;
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
  readonly sampledTokens: boolean;
  readonly sampleWeights: boolean;
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
  private weightBuffer = new Float32Array(0);
  private massBuffer = new Float32Array(0);
  private readonly scratch: Int32Array;
  private lastTree: DraftTree | null = null;

  constructor(model: ToyLanguageModel, options: ToyTargetOptions = {}) {
    this.model = model;
    this.vocabSize = model.vocabSize;
    this.maxContext = requireInteger('maxContext', options.maxContext ?? 4096, 1);
    this.featureSize = requireInteger('featureSize', options.featureSize ?? 0, 0);
    this.greedyTokens = options.greedyTokens ?? false;
    this.sampledTokens = options.sampledTokens ?? false;
    this.sampleWeights = this.sampledTokens && (options.sampleWeights ?? false);
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
    if (this.sampledTokens && options?.sample && (options.sample.weights !== true || this.sampleWeights))
      return this.sampledStep(rows, options, options.sample);
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
    this.ensureRowOutputs(rows);
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

  /**
   * Each row's token drawn as an ONNX target's in-graph sampler draws it (a block of the
   * vocabulary by the first uniform, a token within it by the second; blocks of the power of two
   * above the vocabulary's square root), and logit sums, in place of the logits; with
   * `sample.weights`, the rows' float32 weights and their sums too.
   */
  private sampledStep(rows: number, options: TargetCallOptions, sample: RowSampling): TargetStep {
    this.ensureRowOutputs(rows);
    const vocab = this.vocabSize;
    const size = 2 ** Math.ceil(Math.log2(Math.sqrt(vocab)));
    const logits = this.logitsBuffer;
    const weights = new Float64Array(vocab);
    for (let r = 0; r < rows; r++) {
      const offset = r * vocab;
      const largest = logits[offset + argmax(logits, offset, vocab)] as number;
      let sum = 0;
      for (let v = 0; v < vocab; v++) {
        weights[v] = Math.exp(((logits[offset + v] as number) - largest) / sample.temperature);
        sum += logits[offset + v] as number;
      }
      const blockWeights = Array.from({ length: Math.ceil(vocab / size) }, (_, b) =>
        weights.subarray(b * size, (b + 1) * size).reduce((a, w) => a + w, 0),
      );
      const block = inverseCdf(blockWeights, sample.uniforms[2 * r] as number);
      const within = Array.from(weights.subarray(block * size, (block + 1) * size));
      this.tokenBuffer[r] = block * size + inverseCdf(within, sample.uniforms[2 * r + 1] as number);
      this.sumBuffer[r] = sum;
      this.weightBuffer.set(weights, offset);
      this.massBuffer[r] = blockWeights.reduce((a, w) => a + w, 0);
    }
    const step = {
      ...this.step(rows, options),
      logits: new Float32Array(0),
      sampledTokens: this.tokenBuffer.subarray(0, rows),
      logitSums: this.sumBuffer.subarray(0, rows),
    };
    if (sample.weights !== true) return step;
    return {
      ...step,
      sampleWeights: this.weightBuffer.subarray(0, rows * vocab),
      sampleMasses: this.massBuffer.subarray(0, rows),
    };
  }

  private ensureRowOutputs(rows: number): void {
    if (this.tokenBuffer.length < rows) {
      this.tokenBuffer = new Int32Array(rows * 2);
      this.sumBuffer = new Float32Array(rows * 2);
      this.weightBuffer = new Float32Array(rows * 2 * this.vocabSize);
      this.massBuffer = new Float32Array(rows * 2);
    }
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

/** The first index whose cumulative share of `weights`' total exceeds `u`. */
function inverseCdf(weights: readonly number[], u: number): number {
  const total = weights.reduce((a, w) => a + w, 0);
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i] as number;
    if (cumulative / total > u) return i;
  }
  return weights.length - 1;
}
