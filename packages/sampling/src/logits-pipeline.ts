import { argmax } from '@treespec/core';
import {
  applyMinP,
  applyPresenceFrequencyPenalty,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  checkedArgmax,
  checkLogits,
  softmaxFromMax,
  softmaxInto,
} from './logits-processors.js';
import { PenaltyContext } from './penalty-context.js';
import { hasPenalties, type ResolvedSampling, shapesBeyondTemperature } from './sampling-options.js';

/**
 * The processors of {@link ResolvedSampling}, composed in their documented order and run in
 * place on one logits row at a time, with scratch allocated once for the vocabulary.
 */
export class LogitsPipeline {
  readonly vocabSize: number;
  readonly sampling: ResolvedSampling;
  /** Token counts for the penalties; null when no penalty is set. */
  readonly penalties: PenaltyContext | null;
  private readonly sortScratch: Float32Array;
  private readonly probScratch: Float64Array;
  private readonly sortedScratch: Float64Array;
  /** Whether anything but the temperature shapes a row (penalties, top-k, top-p, min-p). */
  private readonly filters: boolean;

  constructor(vocabSize: number, sampling: ResolvedSampling) {
    this.vocabSize = vocabSize;
    this.sampling = sampling;
    this.penalties = hasPenalties(sampling) ? new PenaltyContext(vocabSize) : null;
    this.sortScratch = new Float32Array(sampling.topK > 0 ? vocabSize : 0);
    this.probScratch = new Float64Array(sampling.topP < 1 ? vocabSize : 0);
    this.sortedScratch = new Float64Array(sampling.topP < 1 ? vocabSize : 0);
    this.filters = shapesBeyondTemperature(sampling);
  }

  /**
   * Checks the row, then applies the penalties and, unless greedy, temperature, top-k, top-p
   * and min-p. `position` is the sequence position the row predicts from (for error messages).
   */
  shape(logits: Float32Array, offset: number, position: number): void {
    const v = this.vocabSize;
    const s = this.sampling;
    checkLogits(logits, offset, v, position);
    if (this.penalties) {
      if (s.repetitionPenalty !== 1)
        applyRepetitionPenalty(logits, offset, this.penalties.all, s.repetitionPenalty);
      if (s.presencePenalty !== 0 || s.frequencyPenalty !== 0) {
        applyPresenceFrequencyPenalty(
          logits,
          offset,
          this.penalties.generated,
          s.presencePenalty,
          s.frequencyPenalty,
        );
      }
    }
    if (s.temperature === 0) return;
    applyTemperature(logits, offset, v, s.temperature);
    applyTopK(logits, offset, v, s.topK, this.sortScratch);
    applyTopP(logits, offset, v, s.topP, this.probScratch, this.sortedScratch);
    applyMinP(logits, offset, v, s.minP);
  }

  /** Shapes the row and writes the resulting distribution into `out`. */
  distribution(logits: Float32Array, offset: number, position: number, out: Float64Array): void {
    const v = this.vocabSize;
    const s = this.sampling;
    if (!this.filters) {
      // Nothing but the temperature between the check and the softmax: the check finds the
      // largest logit, and the temperature, a monotone scaling, keeps it the largest.
      const largest = offset + checkedArgmax(logits, offset, v, position);
      applyTemperature(logits, offset, v, s.temperature);
      softmaxFromMax(logits, offset, v, logits[largest], out);
      return;
    }
    this.shape(logits, offset, position);
    softmaxInto(logits, offset, v, out);
  }

  /** The greedy token of the row: {@link LogitsPipeline.shape}, then the largest logit's token. */
  greedyToken(logits: Float32Array, offset: number, position: number): number {
    if (this.penalties) {
      this.shape(logits, offset, position);
      return argmax(logits, offset, this.vocabSize);
    }
    return checkedArgmax(logits, offset, this.vocabSize, position);
  }
}
