/**
 * Whether a drafter's `reset(seed, temperature)` starts a sampling generation: the decoder resets
 * it with its verifier's seed, which only a stochastic verifier has, and one without a
 * temperature samples at 1. Drafters that learn apart for greedy and sampling generations (the
 * budget controller, the hybrid, the priced model-free drafters) tell the two kinds by this one rule.
 */
export function samplingGeneration(seed: number | undefined, temperature: number | undefined): boolean {
  return seed !== undefined && (temperature ?? 1) > 0;
}

/**
 * Temperatures at which sampling generations start a new band of what the hybrid and the priced
 * model-free drafters learn ({@link generationKind}): a token copied or drafted is accepted about
 * as often as the target would sample it, nearly as in greedy generations at 0.2, far less at 1, so
 * a server that serves both prices each by generations like it. Below 0.5, from 0.5 (chat
 * defaults of 0.6–0.8), from 0.9 (1 and above).
 */
export const SAMPLING_BANDS: readonly number[] = [0.5, 0.9];

/** Kinds of generation learnt apart: greedy, and each band of {@link SAMPLING_BANDS}. */
export const GENERATION_KINDS = SAMPLING_BANDS.length + 2;

/**
 * Which kind of generation a `reset(seed, temperature)` starts: 0 greedy ({@link samplingGeneration}),
 * else 1 + the number of {@link SAMPLING_BANDS} bounds at or below its temperature.
 */
export function generationKind(seed: number | undefined, temperature: number | undefined): number {
  if (!samplingGeneration(seed, temperature)) return 0;
  const t = temperature ?? 1;
  let kind = 1;
  for (const bound of SAMPLING_BANDS) if (t >= bound) kind++;
  return kind;
}
