import { expNonPositive, NumericError } from '@treespec/core';
import type { TokenCounts } from './token-counts.js';

/**
 * Logits processors. Each works in place on the row `logits[offset .. offset + vocabSize)`,
 * removes tokens by setting their logit to -Infinity, and allocates nothing; `scratch` arrays
 * are caller-owned and at least `vocabSize` long.
 */

/**
 * Throws a {@link NumericError} naming `position` when the row holds a NaN or +Infinity, or
 * when every logit is -Infinity: such a row has no distribution to sample from.
 */
export function checkLogits(logits: Float32Array, offset: number, vocabSize: number, position: number): void {
  let finite = false;
  for (let i = offset, end = offset + vocabSize; i < end; i++) {
    const v = logits[i];
    if (Number.isNaN(v) || v === Infinity) {
      throw new NumericError(
        `target logit of token ${i - offset} at sequence position ${position} is ${v}`,
        position,
      );
    }
    if (v !== -Infinity) finite = true;
  }
  if (!finite)
    throw new NumericError(`every target logit at sequence position ${position} is -Infinity`, position);
}

/** CTRL-style repetition penalty over the tokens in `counts`: positive logits ÷ penalty, negative × penalty. */
export function applyRepetitionPenalty(
  logits: Float32Array,
  offset: number,
  counts: TokenCounts,
  penalty: number,
): void {
  for (let k = 0; k < counts.distinctCount; k++) {
    const i = offset + counts.distinct[k];
    const v = logits[i];
    logits[i] = v > 0 ? v / penalty : v * penalty;
  }
}

/** Subtracts `presence` once and `frequency` per occurrence from the logit of every token in `counts`. */
export function applyPresenceFrequencyPenalty(
  logits: Float32Array,
  offset: number,
  counts: TokenCounts,
  presence: number,
  frequency: number,
): void {
  for (let k = 0; k < counts.distinctCount; k++) {
    const token = counts.distinct[k];
    logits[offset + token] -= presence + frequency * counts.counts[token];
  }
}

/** Divides every logit by `temperature` (> 0). */
export function applyTemperature(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  temperature: number,
): void {
  if (temperature === 1) return;
  const inv = 1 / temperature;
  for (let i = offset, end = offset + vocabSize; i < end; i++) logits[i] *= inv;
}

/** Keeps the `k` largest logits (and any equal to the k-th), removing the rest. */
export function applyTopK(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  k: number,
  scratch: Float32Array,
): void {
  if (k <= 0 || k >= vocabSize) return;
  const sorted = scratch.subarray(0, vocabSize);
  sorted.set(logits.subarray(offset, offset + vocabSize));
  sorted.sort();
  maskBelow(logits, offset, vocabSize, sorted[vocabSize - k]);
}

/**
 * Nucleus filtering: keeps the most likely tokens until their probability reaches `p`, and every
 * token as likely as the last one kept (ties are kept together rather than split arbitrarily).
 * `probs` and `sorted` are scratch of at least `vocabSize` doubles.
 */
export function applyTopP(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  p: number,
  probs: Float64Array,
  sorted: Float64Array,
): void {
  if (p >= 1) return;
  softmaxInto(logits, offset, vocabSize, probs);
  const order = sorted.subarray(0, vocabSize);
  order.set(probs.subarray(0, vocabSize));
  order.sort();
  let sum = 0;
  let threshold = order[vocabSize - 1];
  for (let j = vocabSize - 1; j >= 0; j--) {
    sum += order[j];
    threshold = order[j];
    if (sum >= p) break;
  }
  for (let i = 0; i < vocabSize; i++) if (probs[i] < threshold) logits[offset + i] = -Infinity;
}

/** Removes tokens whose probability is below `minP` times the most likely token's. */
export function applyMinP(logits: Float32Array, offset: number, vocabSize: number, minP: number): void {
  if (minP <= 0) return;
  maskBelow(logits, offset, vocabSize, rowMax(logits, offset, vocabSize) + Math.log(minP));
}

/** Writes softmax(row) into `out` in double precision, subtracting the maximum first. */
export function softmaxInto(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  out: Float64Array,
): void {
  const max = rowMax(logits, offset, vocabSize);
  let sum = 0;
  for (let i = 0; i < vocabSize; i++) {
    const e = expNonPositive(logits[offset + i] - max);
    out[i] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let i = 0; i < vocabSize; i++) out[i] *= inv;
}

/** Writes log_softmax(row) into `out` in double precision. */
export function logSoftmaxInto(
  logits: Float32Array,
  offset: number,
  vocabSize: number,
  out: Float64Array,
): void {
  const max = rowMax(logits, offset, vocabSize);
  let sum = 0;
  for (let i = 0; i < vocabSize; i++) sum += expNonPositive(logits[offset + i] - max);
  const shift = max + Math.log(sum);
  for (let i = 0; i < vocabSize; i++) out[i] = logits[offset + i] - shift;
}

/** The largest logit of the row. */
function rowMax(logits: Float32Array, offset: number, vocabSize: number): number {
  let max = -Infinity;
  for (let i = offset, end = offset + vocabSize; i < end; i++) if (logits[i] > max) max = logits[i];
  return max;
}

/** Removes every token whose logit is below `threshold`. */
function maskBelow(logits: Float32Array, offset: number, vocabSize: number, threshold: number): void {
  for (let i = offset, end = offset + vocabSize; i < end; i++)
    if (logits[i] < threshold) logits[i] = -Infinity;
}
