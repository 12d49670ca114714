import { requireInteger, requireNumber } from '../validate.js';
import { mix32, unit } from './hash.js';

/** Options of {@link ToyLanguageModel}. */
export interface ToyModelOptions {
  /** Vocabulary size. Default 32. */
  vocabSize?: number;
  /** How many trailing tokens the next-token distribution depends on. Default 2. */
  order?: number;
  /** Selects the model; equal seeds give equal models. Default 1. */
  seed?: number;
  /** Logit scale: larger is more peaked. Default 3. */
  sharpness?: number;
  /** Token whose logit gets `eosBias` added (to make EOS likely in tests). */
  eosTokenId?: number;
  /** Added to the EOS logit. Default 0. */
  eosBias?: number;
}

/**
 * A deterministic toy language model: the next-token logits are a seeded hash of the last
 * `order` tokens, so it behaves like a fixed table of distributions without storing one.
 * Pure TypeScript, exact and fast: for testing the loop, the trees and the verifiers.
 */
export class ToyLanguageModel {
  readonly vocabSize: number;
  readonly order: number;
  readonly seed: number;
  readonly sharpness: number;
  readonly eosTokenId: number;
  readonly eosBias: number;

  constructor(options: ToyModelOptions = {}) {
    this.vocabSize = requireInteger('vocabSize', options.vocabSize ?? 32, 2);
    this.order = requireInteger('order', options.order ?? 2, 1, 16);
    this.seed = requireInteger('seed', options.seed ?? 1, 0, 0xffffffff);
    this.sharpness = requireNumber('sharpness', options.sharpness ?? 3, { min: 0 });
    this.eosTokenId = options.eosTokenId ?? -1;
    this.eosBias = options.eosBias ?? 0;
  }

  /** Hash of the context that the distribution depends on (its last `order` tokens). */
  contextHash(tokens: ArrayLike<number>, length: number): number {
    let h = mix32(this.seed ^ 0x9e3779b9);
    for (let i = Math.max(0, length - this.order); i < length; i++)
      h = mix32(h ^ Math.imul(tokens[i] + 1, 0x27d4eb2d));
    return h;
  }

  /** Writes the next-token logits after `tokens[0..length)` into `out[offset ..]`. */
  logits(tokens: ArrayLike<number>, length: number, out: Float32Array | Float64Array, offset = 0): void {
    this.logitsForHash(this.contextHash(tokens, length), out, offset);
  }

  /** Writes the logits of the context with the given hash. */
  logitsForHash(hash: number, out: Float32Array | Float64Array, offset = 0): void {
    for (let v = 0; v < this.vocabSize; v++) {
      const a = mix32(hash ^ Math.imul(v + 1, 0x165667b1));
      const b = mix32(a ^ 0x5bd1e995);
      const c = mix32(b ^ 0x1b873593);
      const gaussianish = unit(a) + unit(b) + unit(c) - 1.5;
      let logit = this.sharpness * 2 * gaussianish;
      if (v === this.eosTokenId) logit += this.eosBias;
      out[offset + v] = Math.fround(logit);
    }
  }

  /** Writes the exact next-token probabilities (softmax of the float32 logits) into `out`. */
  probabilities(tokens: ArrayLike<number>, length: number, out: Float64Array): void {
    this.logits(tokens, length, out, 0);
    let max = -Infinity;
    for (let v = 0; v < this.vocabSize; v++) max = Math.max(max, out[v]);
    let sum = 0;
    for (let v = 0; v < this.vocabSize; v++) {
      const e = Math.exp(out[v] - max);
      out[v] = e;
      sum += e;
    }
    for (let v = 0; v < this.vocabSize; v++) out[v] = out[v] / sum;
  }
}
