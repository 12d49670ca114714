import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

const MAX_CONTEXT = 80;

let generator: TextGenerator;
beforeAll(async () => {
  generator = await loadTreespec(TINY, {
    maxContext: MAX_CONTEXT,
    drafter: 'eagle2',
    drafters: ['draft-lm', 'hybrid'],
    tree: { topK: 4, depth: 6, totalTokens: 24 },
  });
});
afterAll(() => generator.dispose());

describe('generation that reaches the end of the context', () => {
  for (const drafter of ['eagle2', 'draft-lm', 'hybrid', 'none']) {
    it(`ends cleanly with finish reason "context" and plain decoding's tokens (${drafter})`, async () => {
      const prompt = devPrompts(1)[0]!.prompt;
      const plain = await generator.generate(prompt, { maxTokens: 1000, plain: true });
      const r = await generator.generate(prompt, { maxTokens: 1000, drafter });
      expect(r.finishReason).toBe('context');
      // Every position holds a token and the last position's prediction is the final token.
      expect(r.promptTokens.length + r.tokens.length).toBe(MAX_CONTEXT + 1);
      expect(Array.from(r.tokens)).toEqual(Array.from(plain.tokens));
    }, 60_000);
  }

  it('drafts up to the last position from every prompt length near the end', async () => {
    const base = generator.encode(devPrompts(1)[0]!.prompt);
    for (let length = MAX_CONTEXT - 6; length <= MAX_CONTEXT; length++) {
      const prompt = Int32Array.from({ length }, (_, i) => base[i % base.length]!);
      const plain = await generator.generate(prompt, { maxTokens: 50, plain: true });
      for (const drafter of ['eagle2', 'draft-lm']) {
        const r = await generator.generate(prompt, { maxTokens: 50, drafter });
        expect(r.finishReason, `${drafter} from ${length}`).toBe('context');
        expect(Array.from(r.tokens), `${drafter} from ${length}`).toEqual(Array.from(plain.tokens));
      }
    }
  }, 60_000);
});

describe('a context window smaller than the drafters’ trees', () => {
  it('loads every drafter, its trees (sampled ones too) cut to the window, and decodes what plain decoding does', async () => {
    const small = await loadTreespec(TINY, {
      maxContext: 6,
      drafters: ['eagle2', 'eagle3', 'draft-lm', 'lookup', 'suffix', 'hybrid'],
    });
    try {
      const prompt = Int32Array.from([1, 450, 3186]);
      for (const temperature of [0, 1]) {
        const sampling = { maxTokens: 8, temperature, seed: 7 };
        const plain = await small.generate(prompt, { ...sampling, plain: true });
        for (const drafter of ['eagle2', 'eagle3', 'draft-lm', 'lookup', 'suffix', 'hybrid']) {
          const r = await small.generate(prompt, { ...sampling, drafter });
          expect(r.finishReason, `${drafter} at T=${temperature}`).toBe('context');
          if (temperature === 0) expect(Array.from(r.tokens), drafter).toEqual(Array.from(plain.tokens));
        }
      }
    } finally {
      await small.dispose();
    }
  }, 60_000);
});
