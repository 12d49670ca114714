import { OptionError } from './errors.js';

/** Most nodes a dynamic tree may generate per step (its scratch arrays and draft rows grow with it). */
export const MAX_DRAFT_NODES = 1 << 16;

/**
 * Most draft-row × frontier cells: a draft model's attention bias holds one row per frontier
 * node over every cached row, so a wide frontier over many nodes is what costs memory.
 */
export const MAX_DRAFT_BIAS_CELLS = 1 << 24;

/**
 * Checks that a dynamic tree budget (`depth` in EAGLE's convention: levels after the first), each number within its own bound, does not multiply into
 * more than the draft buffers can hold (`--tree-top-k 4096 --tree-depth 1024` alone would ask
 * for a 17 GB array).
 * @throws OptionError with the product and the limit, naming the options to lower.
 */
export function checkTreeBudget(topK: number, depth: number, frontier: number): number {
  const nodes = 1 + topK + depth * frontier * topK;
  if (nodes > MAX_DRAFT_NODES || nodes * frontier > MAX_DRAFT_BIAS_CELLS) {
    throw new OptionError(
      'tree',
      { topK, depth, frontier },
      `a budget whose drafted nodes (1 + topK + depth × frontier × topK = ${nodes}) are at most ` +
        `${MAX_DRAFT_NODES} and, times the frontier, at most ${MAX_DRAFT_BIAS_CELLS}; lower topK, frontier or depth`,
    );
  }
  return nodes;
}
