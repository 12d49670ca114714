import { describe, expect, it } from 'vitest';
import { DEFAULT_TREE, GPU_TREE, treeBudget } from '../src/index.js';

describe('treeBudget', () => {
  it('fills in the defaults for what is not given', () => {
    expect(treeBudget(DEFAULT_TREE)).toEqual(DEFAULT_TREE);
    expect(treeBudget(DEFAULT_TREE, { depth: 7 })).toEqual({ ...DEFAULT_TREE, depth: 7 });
  });

  it('lets a given topK set the frontier unless a frontier is given too', () => {
    expect(DEFAULT_TREE.frontier).toBe(1);
    expect(treeBudget(DEFAULT_TREE, GPU_TREE)).toEqual({ topK: 8, frontier: 8, depth: 5, totalTokens: 32 });
    expect(treeBudget(DEFAULT_TREE, { topK: 4, frontier: 2 })).toEqual({
      ...DEFAULT_TREE,
      topK: 4,
      frontier: 2,
    });
    expect(treeBudget(GPU_TREE, { topK: 4 })).toEqual({ topK: 4, frontier: 4, depth: 5, totalTokens: 32 });
  });
});
