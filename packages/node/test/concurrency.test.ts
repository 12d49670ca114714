import { DisposedError, QueueFullError, type TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

let generator: TextGenerator;
beforeAll(async () => {
  generator = await loadTreespec(TINY, { drafters: ['draft-lm'], maxQueued: 3 });
});
afterAll(() => generator.dispose());

const prompts = devPrompts(3).map((p) => p.prompt);

describe('concurrent generations on one generator', () => {
  it('gives every concurrent call the text it gets alone, plain and speculative alike', async () => {
    const options = [{ plain: true }, {}, { drafter: 'draft-lm' }] as const;
    const alone = [];
    for (let i = 0; i < 3; i++)
      alone.push(await generator.generate(prompts[i]!, { maxTokens: 24, ...options[i] }));
    const together = await Promise.all(
      prompts.map((p, i) => generator.generate(p, { maxTokens: 24, ...options[i] })),
    );
    for (let i = 0; i < 3; i++) {
      expect(together[i]!.text).toBe(alone[i]!.text);
      expect(together[i]!.finishReason).toBe('length');
    }
  }, 60_000);

  it('streams concurrent calls one after the other, in the order they were made', async () => {
    const order: number[] = [];
    const streams = prompts.map((p) => generator.stream(p, { maxTokens: 8 }));
    await Promise.all(
      streams.map(async (s, i) => {
        for await (const _ of s) order.push(i);
      }),
    );
    const firstOf = [0, 1, 2].map((i) => order.indexOf(i));
    const lastOf = [0, 1, 2].map((i) => order.lastIndexOf(i));
    expect(lastOf[0]).toBeLessThan(firstOf[1]!);
    expect(lastOf[1]).toBeLessThan(firstOf[2]!);
  }, 60_000);

  it('ends a waiting call aborted before its turn with no tokens, and still serves the rest', async () => {
    const reference = await generator.generate(prompts[0]!, { maxTokens: 16 });
    const controller = new AbortController();
    const running = generator.generate(prompts[1]!, { maxTokens: 16 });
    const waiting = generator.generate(prompts[2]!, { maxTokens: 16, signal: controller.signal });
    const after = generator.generate(prompts[0]!, { maxTokens: 16 });
    controller.abort();
    const aborted = await waiting;
    expect(aborted.finishReason).toBe('abort');
    expect(aborted.tokens.length).toBe(0);
    expect((await running).finishReason).toBe('length');
    expect((await after).text).toBe(reference.text);
  }, 60_000);

  it('refuses a call beyond maxQueued with a QueueFullError, leaving the queued ones intact', async () => {
    const reference = await generator.generate(prompts[0]!, { maxTokens: 8 });
    const calls = [0, 1, 2, 3].map(() => generator.generate(prompts[0]!, { maxTokens: 8 }));
    expect(() => generator.stream(prompts[0]!, { maxTokens: 8 })).toThrow(QueueFullError);
    expect(() => generator.stream(prompts[0]!, { maxTokens: 8 })).toThrow(/3 generations waiting.*maxQueued/);
    for (const r of await Promise.all(calls)) expect(r.text).toBe(reference.text);
  }, 60_000);

  it('aborts the running call and ends the waiting ones on dispose, then refuses with DisposedError', async () => {
    const own = await loadTreespec(TINY);
    const running = own.generate(prompts[0]!, { maxTokens: 100_000 });
    const waiting = own.generate(prompts[1]!, { maxTokens: 8 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await own.dispose();
    expect((await running).finishReason).toBe('abort');
    expect((await waiting).finishReason).toBe('abort');
    await expect(own.generate(prompts[0]!, { maxTokens: 8 })).rejects.toThrow(DisposedError);
    await expect(own.generate(prompts[0]!, { maxTokens: 8 })).rejects.toThrow(
      'this generator was disposed and its models released; load it again to generate',
    );
  }, 60_000);
});
