import type { DecoderConfig } from './config.js';
import { CheckpointError } from './errors.js';

/**
 * Checks that a draft head was trained for `target`: the same hidden size and vocabulary.
 * @param what names the head in the message, e.g. "EAGLE head" or "EAGLE-3 head"
 * @throws CheckpointError `mismatch` naming the property, both values and both config files.
 */
export function checkHeadFitsTarget(
  head: Pick<DecoderConfig, 'hidden' | 'vocab' | 'file'>,
  target: DecoderConfig,
  what: string,
): void {
  for (const [property, a, b] of [
    ['hidden_size', head.hidden, target.hidden],
    ['vocab_size', head.vocab, target.vocab],
  ] as const) {
    if (a !== b) {
      throw new CheckpointError(
        'mismatch',
        head.file,
        `the ${what}'s ${property} is ${a} but the target's (${target.file}) is ${b}; a head only works with the target it was trained for`,
      );
    }
  }
}
