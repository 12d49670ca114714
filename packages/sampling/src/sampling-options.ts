import { MAX_SEED, OptionError, requireInteger, requireNumber } from '@treespec/core';

/**
 * How the target's next-token distribution is shaped before sampling. Applied in this order:
 * 1. repetition penalty (CTRL-style: positive logits divided, negative multiplied) over every
 *    token of the context (prompt and generated);
 * 2. presence and frequency penalties (subtracted from the logit) over generated tokens;
 * 3. temperature (logits divided by it; 0 means greedy: take the argmax, no sampling, and so does
 *    any temperature below {@link GREEDY_BELOW});
 * 4. top-k, 5. top-p (nucleus), 6. min-p — each removes tokens (logit set to -Infinity) from
 *    the distribution that the previous steps produced.
 */
export interface SamplingOptions {
  /** 0 for greedy decoding (as is anything below {@link GREEDY_BELOW}); otherwise > 0. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 disables. Default 0. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p, in (0, 1]. Default 1. */
  topP?: number;
  /** Drop tokens whose probability is below minP times the most likely one's, in [0, 1]. Default 0. */
  minP?: number;
  /** > 0; 1 disables. Default 1. */
  repetitionPenalty?: number;
  /** Subtracted once from the logit of every token generated so far. Default 0. */
  presencePenalty?: number;
  /** Subtracted from a token's logit once per time it was generated. Default 0. */
  frequencyPenalty?: number;
  /** Seed of the sampling stream (integer in [0, 2^32)); equal seeds reproduce a run. Default 0. */
  seed?: number;
}

/**
 * Temperatures below this decode greedily, as vLLM's do: logits divided by less overflow float32
 * (a logit of 2 at 1e-38 is infinite, and a row of infinities has no distribution), while down
 * to it the softmax already puts all but about e^-100 of its mass on tokens within 0.001 of the
 * top logit.
 */
export const GREEDY_BELOW = 1e-5;

/** {@link SamplingOptions} with defaults filled in and every value checked. */
export type ResolvedSampling = Required<SamplingOptions>;

/** Validates sampling options, throwing an {@link OptionError} that names the first bad one. */
export function resolveSampling(options: SamplingOptions = {}): ResolvedSampling {
  const temperature = options.temperature ?? 1;
  if (!(typeof temperature === 'number' && Number.isFinite(temperature) && temperature >= 0)) {
    throw new OptionError('temperature', temperature, 'a finite number >= 0 (0 means greedy)');
  }
  return {
    temperature: temperature < GREEDY_BELOW ? 0 : temperature,
    topK: requireInteger('topK', options.topK ?? 0, 0),
    topP: requireNumber('topP', options.topP ?? 1, { min: 0, max: 1, minExclusive: true }),
    minP: requireNumber('minP', options.minP ?? 0, { min: 0, max: 1 }),
    repetitionPenalty: requireNumber('repetitionPenalty', options.repetitionPenalty ?? 1, {
      min: 0,
      minExclusive: true,
    }),
    presencePenalty: requireNumber('presencePenalty', options.presencePenalty ?? 0, {}),
    frequencyPenalty: requireNumber('frequencyPenalty', options.frequencyPenalty ?? 0, {}),
    seed: requireInteger('seed', options.seed ?? 0, 0, MAX_SEED),
  };
}

/** True when the options use any penalty (which makes logits depend on the context). */
export function hasPenalties(s: ResolvedSampling): boolean {
  return s.repetitionPenalty !== 1 || s.presencePenalty !== 0 || s.frequencyPenalty !== 0;
}

/**
 * True when anything but the temperature shapes a row before sampling (penalties, top-k, top-p,
 * min-p): the distribution is then not the row's softmax at the temperature.
 */
export function shapesBeyondTemperature(s: ResolvedSampling): boolean {
  return hasPenalties(s) || s.topK > 0 || s.topP < 1 || s.minP > 0;
}
