/**
 * Whether a drafter's `reset(seed, temperature)` starts a sampling generation: the decoder resets
 * it with its verifier's seed, which only a stochastic verifier has, and one without a
 * temperature samples at 1. Drafters that learn apart for greedy and sampling generations (the
 * budget controller, the hybrid, the priced model-free drafters) tell the two kinds by this one rule.
 */
export function samplingGeneration(seed: number | undefined, temperature: number | undefined): boolean {
  return seed !== undefined && (temperature ?? 1) > 0;
}
