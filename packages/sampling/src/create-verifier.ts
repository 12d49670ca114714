import type { Verifier } from '@treespec/core';
import { GreedyVerifier } from './greedy-verifier.js';
import { resolveSampling, type SamplingOptions } from './sampling-options.js';
import { StochasticVerifier } from './stochastic-verifier.js';

/**
 * The verifier for the given sampling options: greedy (with any penalties) at temperature 0,
 * stochastic otherwise. Options are validated here, so bad ones fail before a generation starts.
 */
export function createVerifier(options: SamplingOptions = {}): Verifier {
  const s = resolveSampling(options);
  return s.temperature === 0 ? new GreedyVerifier(s) : new StochasticVerifier(s);
}
