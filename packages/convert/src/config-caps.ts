import { OptionError } from '@treespec/core';

/**
 * Most positions the converter builds RoPE tables for unless `maxContext` (`--max-context`) asks
 * for more. The tables grow with the positions, so a hostile or mistaken
 * `max_position_embeddings` (5e6, 1e8) would otherwise ask for gigabytes.
 */
export const MAX_DEFAULT_POSITIONS = 131_072;

/**
 * The config's `maxPositions` when it is at most {@link MAX_DEFAULT_POSITIONS}.
 * @throws OptionError saying the number and how to override it (`maxContext`).
 */
export function defaultPositions(maxPositions: number): number {
  if (maxPositions <= MAX_DEFAULT_POSITIONS) return maxPositions;
  throw new OptionError(
    'maxContext',
    undefined,
    `given (--max-context <n>, at most ${maxPositions}) when the config's max_position_embeddings ` +
      `(${maxPositions}) exceeds the ${MAX_DEFAULT_POSITIONS} positions the converter builds RoPE tables for by default`,
  );
}
