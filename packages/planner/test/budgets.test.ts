import { DYNAMIC_TREE_DEFAULTS } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { startTree } from '../src/budgets.js';
import { CONTROLLED_CAPACITIES, DEVICE_PRESETS, mergeTree, resolveBudgets } from '../src/index.js';

describe('mergeTree', () => {
  it('fills in the base for what is not given', () => {
    const cpu = DEVICE_PRESETS.cpu.tree ?? {};
    expect(mergeTree(cpu)).toEqual(cpu);
    expect(mergeTree(cpu, { depth: 7 })).toEqual({ ...cpu, depth: 7 });
  });

  it('lets a given topK set the frontier unless a frontier is given too', () => {
    const cpu = { topK: 3, frontier: 1, depth: 4, totalTokens: 11 };
    expect(mergeTree(cpu, { topK: 8, depth: 4, totalTokens: 33 })).toEqual({
      topK: 8,
      frontier: 8,
      depth: 4,
      totalTokens: 33,
    });
    expect(mergeTree(cpu, { topK: 4, frontier: 2 })).toEqual({ ...cpu, topK: 4, frontier: 2 });
  });
});

describe('resolveBudgets', () => {
  it('starts from core defaults, which the GPU devices keep', () => {
    const gpu = { ...DYNAMIC_TREE_DEFAULTS, frontier: DYNAMIC_TREE_DEFAULTS.topK };
    expect(resolveBudgets('webgpu', undefined).tree).toEqual(gpu);
    expect(resolveBudgets('cuda', undefined).tree).toEqual(gpu);
  });

  it('takes the device preset, then the bundle tuning of that device, then the call options (fixed budgets)', () => {
    expect(resolveBudgets('cpu', undefined, {}, 'fixed').tree).toEqual({
      topK: 3,
      frontier: 1,
      depth: 4,
      totalTokens: 11,
    });
    expect(resolveBudgets('wasm', undefined, {}, 'fixed').tree).toEqual({
      topK: 2,
      frontier: 2,
      depth: 1,
      totalTokens: 5,
    });
    const tuning = {
      cpu: { tree: { totalTokens: 12 }, draftTree: { depth: 4 } },
      wasm: { tree: { depth: 3 } },
    };
    expect(resolveBudgets('cpu', tuning, {}, 'fixed')).toEqual({
      tree: { topK: 3, frontier: 1, depth: 4, totalTokens: 12 },
      draftTree: { topK: 4, frontier: 1, depth: 4, totalTokens: 6 },
    });
    expect(resolveBudgets('cpu', tuning, { tree: { topK: 2 } }, 'fixed').tree).toEqual({
      topK: 2,
      frontier: 2,
      depth: 4,
      totalTokens: 12,
    });
    expect(resolveBudgets('webgpu', tuning).tree.totalTokens).toBe(DYNAMIC_TREE_DEFAULTS.totalTokens);
  });

  it('under a budget controller (auto, the default) gives CPU-bound devices the controlled capacity, tuning and call options over it', () => {
    expect(resolveBudgets('cpu', undefined)).toEqual(CONTROLLED_CAPACITIES.cpu);
    expect(resolveBudgets('wasm', undefined)).toEqual(CONTROLLED_CAPACITIES.wasm);
    expect(
      resolveBudgets('cpu', { cpu: { tree: { totalTokens: 12 } } }, { tree: { depth: 2 } }).tree,
    ).toEqual({
      ...CONTROLLED_CAPACITIES.cpu?.tree,
      depth: 2,
      totalTokens: 12,
    });
    expect(resolveBudgets('webgpu', undefined)).toEqual(resolveBudgets('webgpu', undefined, {}, 'fixed'));
  });

  it('starts a controller from the fixed budget, which the CPU capacity grows in the same shape', () => {
    const fixed = resolveBudgets('cpu', undefined, {}, 'fixed');
    expect(startTree(fixed.tree)).toEqual({ depth: 5, nodes: 10 });
    expect(startTree(fixed.draftTree)).toEqual({ depth: 3, nodes: 5 });
    const capacity = resolveBudgets('cpu', undefined);
    expect(capacity.tree.topK).toBe(fixed.tree.topK);
    expect(capacity.tree.frontier).toBe(fixed.tree.frontier);
    expect(startTree(capacity.tree).depth).toBeGreaterThan(5);
    expect(startTree(capacity.tree).nodes).toBeGreaterThan(10);
    expect(startTree({})).toEqual({ depth: 5, nodes: 32 });
  });
});
