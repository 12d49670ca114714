import { describe, expect, it } from 'vitest';
import { checkTreeBudget, DynamicTreeGrowth, MAX_DRAFT_NODES, OptionError } from '../src/index.js';

describe('tree budget cap', () => {
  it('counts the nodes a dynamic tree can draft: the root, topK children, then frontier × topK per further depth', () => {
    expect(checkTreeBudget(8, 4, 8)).toBe(1 + 8 + 4 * 64);
    expect(new DynamicTreeGrowth({ topK: 8, depth: 4, totalTokens: 33 }).maxNodes).toBe(265);
  });

  it('refuses budgets whose product exceeds the draft buffers, with the product and the options to lower', () => {
    expect(() => new DynamicTreeGrowth({ topK: 4096, depth: 1023 })).toThrow(OptionError);
    expect(() => new DynamicTreeGrowth({ topK: 4096, depth: 1023 })).toThrow(
      `option "tree" must be a budget whose drafted nodes (1 + topK + depth × frontier × topK = 17163096065) are at most ${MAX_DRAFT_NODES}`,
    );
  });

  it('refuses a wide frontier over many nodes, which the attention bias multiplies', () => {
    expect(() => checkTreeBudget(256, 1, 256)).toThrow(
      /are at most 65536 and, times the frontier, at most 16777216/,
    );
  });
});
