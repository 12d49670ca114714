import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DraftTree,
  MASKED_BIAS,
  writeAttentionBias,
  writeCausalBias,
  writePositionIds,
  writeTreeVisibility,
} from '../src/index.js';
import { ancestorsOf, arbitraryTree } from './arbitraries.js';

describe('tree attention mask', () => {
  it('marks exactly each node and its ancestors in every row', () => {
    fc.assert(
      fc.property(arbitraryTree(), (tree) => {
        const n = tree.size;
        const vis = new Uint8Array(n * n);
        writeTreeVisibility(tree, vis);
        for (let i = 0; i < n; i++) {
          const anc = ancestorsOf(tree, i);
          for (let j = 0; j < n; j++) expect(vis[i * n + j]).toBe(anc.has(j) ? 1 : 0);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('lets every node see the whole committed context and only its ancestors in the tree', () => {
    fc.assert(
      fc.property(arbitraryTree(), fc.integer({ min: 0, max: 30 }), (tree, past) => {
        const n = tree.size;
        const width = past + n;
        const bias = new Float32Array(n * width).fill(123);
        writeAttentionBias(tree, past, bias, new Uint8Array(n * n));
        for (let i = 0; i < n; i++) {
          const anc = ancestorsOf(tree, i);
          for (let j = 0; j < past; j++) expect(bias[i * width + j]).toBe(0);
          for (let j = 0; j < n; j++) expect(bias[i * width + past + j]).toBe(anc.has(j) ? 0 : MASKED_BIAS);
        }
      }),
      { seed: 43, numRuns: 200 },
    );
  });

  it('masks the past columns from `committed` on, for the tree and the causal bias alike', () => {
    fc.assert(
      fc.property(
        arbitraryTree(),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 30 }),
        (tree, a, b) => {
          const [committed, past] = a <= b ? [a, b] : [b, a];
          const n = tree.size;
          const width = past + n;
          const bias = new Float32Array(n * width).fill(123);
          writeAttentionBias(tree, past, bias, new Uint8Array(n * n), committed);
          const causal = new Float32Array(n * width).fill(123);
          writeCausalBias(past, n, causal, committed);
          for (let i = 0; i < n; i++) {
            const anc = ancestorsOf(tree, i);
            for (let j = 0; j < past; j++) {
              const expected = j < committed ? 0 : MASKED_BIAS;
              expect(bias[i * width + j]).toBe(expected);
              expect(causal[i * width + j]).toBe(expected);
            }
            for (let j = 0; j < n; j++) {
              expect(bias[i * width + past + j]).toBe(anc.has(j) ? 0 : MASKED_BIAS);
              expect(causal[i * width + past + j]).toBe(j <= i ? 0 : MASKED_BIAS);
            }
          }
        },
      ),
      { seed: 45, numRuns: 200 },
    );
    expect(() => writeCausalBias(3, 1, new Float32Array(4), 4)).toThrow(
      /committed.*between 0 and pastLength \(3\)/,
    );
  });

  it('places every node at the context length plus its depth', () => {
    fc.assert(
      fc.property(arbitraryTree(), fc.integer({ min: 0, max: 5000 }), (tree, past) => {
        const pos = new Int32Array(tree.size);
        writePositionIds(tree, past, pos);
        for (let i = 0; i < tree.size; i++) expect(pos[i]).toBe(past + ancestorsOf(tree, i).size - 1);
      }),
      { seed: 44, numRuns: 200 },
    );
  });

  it('draws the worked example of docs/spec.md', () => {
    // root(0) -> a(1), b(2); a -> c(3); c -> d(4)
    const tree = new DraftTree(5);
    tree.reset(10);
    tree.add(0, 11, -0.1);
    tree.add(0, 12, -1.2);
    tree.add(1, 13, -0.3);
    tree.add(3, 14, -0.9);
    const vis = new Uint8Array(25);
    writeTreeVisibility(tree, vis);
    const rows = Array.from({ length: 5 }, (_, i) => Array.from(vis.subarray(i * 5, i * 5 + 5)).join(''));
    expect(rows).toEqual(['10000', '11000', '10100', '11010', '11011']);
    const pos = new Int32Array(5);
    writePositionIds(tree, 3, pos);
    expect(Array.from(pos)).toEqual([3, 4, 4, 5, 6]);
  });

  it('rejects output buffers that are too small, naming the size needed', () => {
    const tree = new DraftTree(3);
    tree.reset(1);
    tree.add(0, 2, -1);
    expect(() => writeTreeVisibility(tree, new Uint8Array(3))).toThrow(/out.length.*at least 4/);
  });
});

describe('causal bias', () => {
  it('equals the tree bias of a chain', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 20 }), (rows, past) => {
        const chain = new DraftTree(rows);
        chain.reset(0);
        for (let i = 1; i < rows; i++) chain.add(i - 1, i, -i);
        const expected = new Float32Array(rows * (past + rows));
        writeAttentionBias(chain, past, expected, new Uint8Array(rows * rows));
        const actual = new Float32Array(rows * (past + rows)).fill(7);
        writeCausalBias(past, rows, actual);
        expect(Array.from(actual)).toEqual(Array.from(expected));
      }),
      { seed: 45, numRuns: 100 },
    );
  });
});
