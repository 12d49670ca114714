import { describe, expect, it } from 'vitest';
import { layoutTree, tokenLabel } from '../src/tree-layout.js';

describe('layoutTree', () => {
  it('puts depths in columns, leaves on their own rows, and each parent on its best child row', () => {
    //        r
    //       / \
    //      a   b
    //     / \
    //    c   d
    //    |
    //    e
    const parents = [-1, 0, 0, 1, 1, 3];
    expect(layoutTree(parents)).toEqual({
      depth: [0, 1, 1, 2, 2, 3],
      row: [0, 0, 2, 0, 1, 0],
      rows: 3,
      maxDepth: 3,
    });
  });

  it('draws a chain on one row and a root alone as one box', () => {
    expect(layoutTree([-1, 0, 1, 2]).row).toEqual([0, 0, 0, 0]);
    expect(layoutTree([-1])).toEqual({ depth: [0], row: [0], rows: 1, maxDepth: 0 });
  });
});

describe('tokenLabel', () => {
  it('makes whitespace visible and shortens long tokens', () => {
    expect(tokenLabel(' the')).toBe('·the');
    expect(tokenLabel('\n')).toBe('⏎');
    expect(tokenLabel('')).toBe('∅');
    expect(tokenLabel(' internationalisation', 10)).toBe('·internat…');
  });
});
