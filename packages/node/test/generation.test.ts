import { ContextOverflowError } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY, targetCases } from './tiny.js';

let generator: TextGenerator;
beforeAll(async () => {
  // A fixed budget: these tests pin tau and seeded reproducibility, which a budget controller's
  // timing-driven choices would not (budget-controller.test.ts covers the controller).
  generator = await loadTreespec(TINY, {
    drafter: 'eagle2',
    budget: 'fixed',
    tree: { topK: 4, depth: 3, totalTokens: 17 },
  });
});
afterAll(() => generator.dispose());

describe('every drafter on the real tiny model', () => {
  it('keeps greedy output identical to plain decoding for draft-lm, lookup, suffix and hybrid', async () => {
    const all = await loadTreespec(TINY, {
      budget: 'fixed',
      drafters: ['draft-lm', 'lookup', 'suffix', 'hybrid'],
    });
    try {
      for (const { prompt } of devPrompts(4)) {
        const plain = await all.generate(prompt, { maxTokens: 40, plain: true });
        for (const drafter of ['draft-lm', 'lookup', 'suffix', 'hybrid']) {
          const r = await all.generate(prompt, { maxTokens: 40, drafter });
          expect(Array.from(r.tokens), drafter).toEqual(Array.from(plain.tokens));
        }
      }
      const lm = await all.generate(devPrompts(1)[0]!.prompt, { maxTokens: 40, drafter: 'draft-lm' });
      expect(lm.stats.tau).toBeGreaterThan(2);
    } finally {
      await all.dispose();
    }
  }, 120_000);
});

describe('EAGLE-2 on the real tiny model through onnxruntime-node', () => {
  it('continues the reference prompts exactly as PyTorch greedy decoding did', async () => {
    for (const c of targetCases()) {
      const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
      expect(Array.from(r.promptTokens)).toEqual(c.prompt_ids);
      // Every recorded top-1/top-2 margin exceeds 1e-3 (the smallest is 0.0033), so all 48 must match.
      expect(Math.min(...c.top1_top2_margin)).toBeGreaterThan(1e-3);
      expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
    }
  }, 120_000);

  it('continues the reference prompts as PyTorch did with ONNX Runtime memory plans off, as `treespec generate` loads', async () => {
    const unplanned = await loadTreespec(TINY, { drafter: 'eagle2', memoryPattern: false });
    try {
      for (const c of targetCases()) {
        const r = await unplanned.generate(c.prompt, { maxTokens: c.greedy_ids.length });
        expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
        const plain = await unplanned.generate(c.prompt, { maxTokens: c.greedy_ids.length, plain: true });
        expect(Array.from(plain.tokens)).toEqual(c.greedy_ids);
      }
    } finally {
      await unplanned.dispose();
    }
  }, 120_000);

  it('gives token for token the output of plain decoding on development prompts, with tau above 2', async () => {
    let steps = 0;
    let tokens = 0;
    for (const { prompt } of devPrompts(6)) {
      const spec = await generator.generate(prompt, { maxTokens: 48 });
      const plain = await generator.generate(prompt, { maxTokens: 48, plain: true });
      expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
      expect(spec.text).toBe(plain.text);
      steps += spec.stats.steps;
      tokens += spec.tokens.length;
    }
    expect(tokens / steps).toBeGreaterThan(2);
  }, 120_000);

  it('samples reproducibly with a seed, and temperature 0 is the greedy path', async () => {
    const prompt = devPrompts(1)[0]!.prompt;
    const a = await generator.generate(prompt, { maxTokens: 40, temperature: 0.8, topP: 0.95, seed: 7 });
    const b = await generator.generate(prompt, { maxTokens: 40, temperature: 0.8, topP: 0.95, seed: 7 });
    expect(Array.from(b.tokens)).toEqual(Array.from(a.tokens));
    expect(a.stats.tau).toBeGreaterThan(1);
    const greedy = await generator.generate(prompt, { maxTokens: 40, temperature: 0 });
    const plain = await generator.generate(prompt, { maxTokens: 40, plain: true });
    expect(Array.from(greedy.tokens)).toEqual(Array.from(plain.tokens));
  }, 60_000);

  it('returns what was committed when aborted, and generates again', async () => {
    const prompt = devPrompts(2)[1]!.prompt;
    const full = await generator.generate(prompt, { maxTokens: 40 });
    const controller = new AbortController();
    const aborted = await generator.generate(prompt, {
      maxTokens: 40,
      signal: controller.signal,
      onStep: (e) => e.step === 2 && controller.abort(),
    });
    expect(aborted.finishReason).toBe('abort');
    expect(aborted.tokens.length).toBeGreaterThan(0);
    expect(Array.from(aborted.tokens)).toEqual(Array.from(full.tokens.subarray(0, aborted.tokens.length)));
    expect(Array.from((await generator.generate(prompt, { maxTokens: 40 })).tokens)).toEqual(
      Array.from(full.tokens),
    );
  }, 60_000);

  it('settles a stream whose reader read one delta and stopped, and generates again', async () => {
    const prompt = devPrompts(3)[2]!.prompt;
    const full = await generator.generate(prompt, { maxTokens: 40 });
    const stream = generator.stream(prompt, { maxTokens: 40 });
    await stream[Symbol.asyncIterator]().next();
    const result = await stream.result;
    expect(result.text).toBe(full.text);
    expect((await generator.generate(prompt, { maxTokens: 40 })).text).toBe(full.text);
  }, 60_000);

  it('handles maxTokens 0, an empty prompt and a prompt longer than the context', async () => {
    expect((await generator.generate('Hello', { maxTokens: 0 })).tokens.length).toBe(0);
    const empty = await generator.generate('', { maxTokens: 5 });
    expect(Array.from(empty.promptTokens)).toEqual([1]);
    expect(empty.tokens.length).toBe(5);
    const small = await loadTreespec(TINY, { maxContext: 32 });
    try {
      await expect(small.generate('word '.repeat(40), { maxTokens: 4 })).rejects.toThrow(
        ContextOverflowError,
      );
      const r = await small.generate('The history of the city', { maxTokens: 100 });
      expect(r.finishReason).toBe('context');
      // 32 positions fill the cache; the token predicted at the last of them is still output.
      expect(r.promptTokens.length + r.tokens.length).toBe(33);
    } finally {
      await small.dispose();
    }
  }, 60_000);
});
