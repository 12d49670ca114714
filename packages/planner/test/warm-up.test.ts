import type { TextGenerateOptions, TextGenerator } from '@treespec/generator';
import { describe, expect, it } from 'vitest';
import { WARM_UP_MS, warmUp } from '../src/warm-up.js';

/** A generator that records the warm-up's calls and takes `stepMs` per token until aborted. */
function recordingGenerator(maxContext: number, stepMs: number) {
  const calls: Array<{ options: TextGenerateOptions; tokens: number; aborted: boolean }> = [];
  const generator = {
    target: { maxContext },
    encode: (text: string) => Int32Array.from([1, ...Array.from(text, () => 5)]),
    async generate(_prompt: string, options: TextGenerateOptions) {
      let tokens = 0;
      while (tokens < (options.maxTokens ?? 128) && !options.signal?.aborted) {
        await new Promise((resolve) => setTimeout(resolve, stepMs));
        tokens++;
      }
      calls.push({ options, tokens, aborted: options.signal?.aborted === true });
      return {};
    },
  };
  return { generator: generator as unknown as TextGenerator, calls };
}

describe('the warm-up at load', () => {
  it('runs each drafter named with the load’s own tree, greedy and sampling, then plain steps of each kind', async () => {
    const { generator, calls } = recordingGenerator(2048, 0);
    await warmUp(generator, ['eagle2', 'draft-lm'], 16, true);
    expect(
      calls.map((c) => [
        c.options.drafter,
        c.options.tree,
        c.options.plain,
        c.options.maxTokens,
        c.options.temperature,
      ]),
    ).toEqual([
      ['eagle2', {}, undefined, 16, undefined],
      ['eagle2', {}, undefined, 16, 1],
      ['draft-lm', {}, undefined, 16, undefined],
      ['draft-lm', {}, undefined, 16, 1],
      [undefined, undefined, true, 4, undefined],
      [undefined, undefined, true, 4, 1],
    ]);
  });

  it('runs greedy generations alone where the host never samples', async () => {
    const { generator, calls } = recordingGenerator(2048, 0);
    await warmUp(generator, ['eagle2'], 16, false);
    expect(calls.map((c) => [c.options.drafter, c.options.plain, c.options.temperature])).toEqual([
      ['eagle2', undefined, undefined],
      [undefined, true, undefined],
    ]);
  });

  it('stops each generation after WARM_UP_MS, so that a model with slow steps still loads soon', async () => {
    const { generator, calls } = recordingGenerator(2048, WARM_UP_MS / 4);
    const started = performance.now();
    await warmUp(generator, ['eagle2'], 16, true);
    expect(calls.map((c) => c.aborted)).toEqual([true, true, true, true]);
    expect(calls[0]?.tokens).toBeLessThan(16);
    expect(calls[1]?.tokens).toBeLessThan(16);
    // Less than the drafter's two generations (greedy and sampling) would take unbounded.
    expect(performance.now() - started).toBeLessThan(2 * 16 * (WARM_UP_MS / 4));
  });

  it('ends at once when the load is aborted: the running generation stops and the rest are skipped', async () => {
    const { generator, calls } = recordingGenerator(2048, WARM_UP_MS / 8);
    const load = new AbortController();
    setTimeout(() => load.abort(), WARM_UP_MS / 4);
    await warmUp(generator, ['eagle2', 'draft-lm'], 16, true, load.signal);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.aborted).toBe(true);
    expect(calls[0]?.tokens).toBeLessThan(4);
    await warmUp(generator, ['eagle2'], 16, true, load.signal);
    expect(calls).toHaveLength(1);
  });

  it('fits a small context window, and does nothing without room or tokens', async () => {
    const small = recordingGenerator(8, 0);
    await warmUp(small.generator, ['eagle2'], 16, true);
    expect(small.calls.map((c) => c.options.maxTokens)).toEqual([3, 3, 3, 3]);
    const none = recordingGenerator(3, 0);
    await warmUp(none.generator, ['eagle2'], 16, true);
    await warmUp(recordingGenerator(2048, 0).generator, ['eagle2'], 0, true);
    expect(none.calls).toEqual([]);
  });
});
