import type { DynamicTreeOptions } from '@treespec/core';
import { ModelMismatchError } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

/** The budgets tried: the CPU default, the GPU budget, a chain, and a wide shallow tree. */
const BUDGETS: Array<DynamicTreeOptions | undefined> = [
  undefined,
  { topK: 8, depth: 5, totalTokens: 32 },
  { topK: 1, depth: 4, totalTokens: 4 },
  { topK: 6, frontier: 3, depth: 2, totalTokens: 12 },
];

describe('EAGLE-3 on the real tiny model through onnxruntime-node', () => {
  it('gives token for token the output of plain decoding on development prompts, for every budget', async () => {
    for (const tree of BUDGETS) {
      // Fixed budgets: a budget controller would decode plainly where the weak head does not pay.
      const generator = await loadTreespec(TINY, {
        drafter: 'eagle3',
        budget: 'fixed',
        ...(tree ? { tree } : {}),
      });
      try {
        let steps = 0;
        let tokens = 0;
        for (const { prompt } of devPrompts(4)) {
          const spec = await generator.generate(prompt, { maxTokens: 32 });
          const plain = await generator.generate(prompt, { maxTokens: 32, plain: true });
          expect(Array.from(spec.tokens), JSON.stringify(tree)).toEqual(Array.from(plain.tokens));
          steps += spec.stats.steps;
          tokens += spec.tokens.length;
        }
        // The shipped head is weak (README: 1.29 tokens per step on chains of 4) but does draft.
        expect(tokens / steps).toBeGreaterThan(1.05);
      } finally {
        await generator.dispose();
      }
    }
  }, 300_000);

  it('serves eagle2, eagle3 and a hybrid over eagle3 from one generator: the target fetch carries both heads’ inputs', async () => {
    const generator = await loadTreespec(TINY, {
      drafter: 'eagle3',
      drafters: ['eagle2', 'hybrid'],
      hybridBase: 'eagle3',
      budget: 'fixed',
    });
    try {
      const { prompt } = devPrompts(1)[0]!;
      const plain = await generator.generate(prompt, { maxTokens: 40, plain: true });
      for (const drafter of ['eagle2', 'eagle3', 'hybrid']) {
        const r = await generator.generate(prompt, { maxTokens: 40, drafter });
        expect(Array.from(r.tokens), drafter).toEqual(Array.from(plain.tokens));
        expect(r.stats.steps).toBeLessThan(40);
      }
    } finally {
      await generator.dispose();
    }
  }, 120_000);

  it('names the model that does not fit when the head and target disagree on the captured layers', async () => {
    const { mkdtemp, readFile, writeFile, cp, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'treespec-eagle3-'));
    try {
      await cp(TINY, dir, { recursive: true });
      const path = join(dir, 'treespec.json');
      const manifest = JSON.parse(await readFile(path, 'utf8'));
      const head = manifest.models.find((m: { role: string }) => m.role === 'eagle3-head');
      head.capturedLayers = [1, 4, 6];
      await writeFile(path, JSON.stringify(manifest));
      const error = await loadTreespec(dir, { drafter: 'eagle3' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelMismatchError);
      expect((error as ModelMismatchError).property).toBe('captured layers');
      expect((error as Error).message).toMatch(/\[1, 4, 6\].*\[2, 4, 5\]/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
