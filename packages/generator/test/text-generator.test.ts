import { readFileSync } from 'node:fs';
import { DynamicTreeGrowth } from '@treespec/core';
import { ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { loadTokenizer } from '@treespec/tokenizers';
import { describe, expect, it } from 'vitest';
import { TextGenerator } from '../src/index.js';

const tokenizerFile = (name: string) =>
  readFileSync(new URL(`../../model-tiny/checkpoints/treespec-tiny/${name}`, import.meta.url), 'utf8');
const CHATML =
  '{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}';

async function setup() {
  const tokenizer = await loadTokenizer(
    { tokenizer: tokenizerFile('tokenizer.json'), config: tokenizerFile('tokenizer_config.json') },
    { chatTemplate: CHATML },
  );
  // A toy model over the real vocabulary; byte-level BPE decodes any id sequence.
  const model = new ToyLanguageModel({ vocabSize: tokenizer.vocabSize, order: 2, seed: 4, sharpness: 4 });
  const target = new ToyTarget(model);
  const drafter = new ToyDrafter({
    target,
    growth: new DynamicTreeGrowth({ topK: 2, depth: 2, totalTokens: 7 }),
  });
  return { tokenizer, generator: new TextGenerator({ tokenizer, target, drafter }) };
}

describe('TextGenerator', () => {
  it('generates the text of its tokens, the same with and without the drafter', async () => {
    const { tokenizer, generator } = await setup();
    const spec = await generator.generate('The history of the city', { maxTokens: 40 });
    const plain = await generator.generate('The history of the city', { maxTokens: 40, plain: true });
    expect(spec.promptTokens[0]).toBe(1);
    expect(Array.from(spec.tokens)).toEqual(Array.from(plain.tokens));
    expect(spec.text).toBe(tokenizer.decode(spec.tokens));
    expect(spec.stats.tau).toBeGreaterThan(1);
    expect(plain.stats.tau).toBe(1);
  });

  it('streams deltas that add up to the result text, and cuts a stop string', async () => {
    const { tokenizer, generator } = await setup();
    const free = await generator.generate('Once upon a time', { maxTokens: 30 });
    const stopText = tokenizer.decode(free.tokens.subarray(10, 12));
    const stream = generator.stream('Once upon a time', { maxTokens: 30, stop: [stopText] });
    let streamed = '';
    for await (const delta of stream) streamed += delta;
    const result = await stream.result;
    expect(result.finishReason).toBe('stop');
    expect(streamed).toBe(result.text);
    expect(free.text.startsWith(result.text)).toBe(true);
    expect(result.text.includes(stopText)).toBe(false);
    expect(result.text.length).toBe(free.text.indexOf(stopText));
    // tau counts what the steps committed, the tokens the stop string cut included.
    const plain = await generator.generate('Once upon a time', {
      maxTokens: 30,
      stop: [stopText],
      plain: true,
    });
    expect(plain.text).toBe(result.text);
    expect(plain.stats.steps).toBeGreaterThan(plain.tokens.length);
    expect(plain.stats.tau).toBe(1);
    expect(result.stats.tau).toBeGreaterThan(1);
  });

  it('settles the result while a reader is paused mid-stream, with the text of every committed token', async () => {
    const { tokenizer, generator } = await setup();
    const whole = await generator.generate('Once upon a time', { maxTokens: 30 });
    const stream = generator.stream('Once upon a time', { maxTokens: 30 });
    const reader = stream[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(first.done).toBe(false);
    // The reader never asks again nor returns: the result must not wait for it.
    const result = await stream.result;
    expect(result.text).toBe(whole.text);
    expect(result.text).toBe(tokenizer.decode(result.tokens));
    expect(result.text.startsWith(first.value as string)).toBe(true);
    // The engine is free: the next generation runs.
    expect((await generator.generate('Once upon a time', { maxTokens: 30 })).text).toBe(whole.text);
  });

  it('cuts a stop string from the result of a generation whose reader stopped early', async () => {
    const { tokenizer, generator } = await setup();
    const free = await generator.generate('Once upon a time', { maxTokens: 30 });
    const stopText = tokenizer.decode(free.tokens.subarray(10, 12));
    const stream = generator.stream('Once upon a time', { maxTokens: 30, stop: [stopText] });
    await stream[Symbol.asyncIterator]().next();
    const result = await stream.result;
    expect(result.finishReason).toBe('stop');
    expect(result.text.length).toBe(free.text.indexOf(stopText));
  });

  it('settles the result without a reader, and renders chats through the template', async () => {
    const { tokenizer, generator } = await setup();
    const r = await generator.stream([{ role: 'user', content: 'Hi' }], { maxTokens: 8 }).result;
    expect(tokenizer.decode(r.promptTokens, { skipSpecialTokens: false })).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(r.text).toBe(tokenizer.decode(r.tokens));
  });

  it('decodes greedily when the temperature is left undefined, and tells a per-call tree whether it samples', async () => {
    const { tokenizer, generator: base } = await setup();
    const asked: boolean[] = [];
    const generator = new TextGenerator({
      tokenizer,
      target: base.target,
      drafter: base.drafter,
      withTree: (drafter, _tree, sampling) => {
        asked.push(sampling);
        return drafter;
      },
    });
    const greedy = await generator.generate('Hello', { maxTokens: 20 });
    const undefinedTemperature = await generator.generate('Hello', { maxTokens: 20, temperature: undefined });
    expect(Array.from(undefinedTemperature.tokens)).toEqual(Array.from(greedy.tokens));
    await generator.generate('Hello', { maxTokens: 4, tree: { depth: 1 } });
    await generator.generate('Hello', { maxTokens: 4, tree: { depth: 1 }, temperature: undefined });
    await generator.generate('Hello', { maxTokens: 4, tree: { depth: 1 }, temperature: 0.7 });
    expect(asked).toEqual([false, false, true]);
  });

  it('samples reproducibly with a seed', async () => {
    const { generator } = await setup();
    const a = await generator.generate('Hello', { maxTokens: 20, temperature: 0.9, seed: 5 });
    const b = await generator.generate('Hello', { maxTokens: 20, temperature: 0.9, seed: 5 });
    expect(b.text).toBe(a.text);
  });

  it('hands a reader that starts after the generation ended the whole text, once', async () => {
    const { generator } = await setup();
    const whole = await generator.generate('Once upon a time', { maxTokens: 24 });
    const stream = generator.stream('Once upon a time', { maxTokens: 24 });
    const result = await stream.result;
    let streamed = '';
    for await (const delta of stream) streamed += delta;
    expect(streamed).toBe(result.text);
    expect(result.text).toBe(whole.text);
    await expect(async () => {
      for await (const _ of stream) break;
    }).rejects.toThrow(TypeError);
  });

  it('serves two generators over one target in turn, each with its own output', async () => {
    const { tokenizer, generator } = await setup();
    const plainOnly = new TextGenerator({ tokenizer, target: generator.target });
    const prompts = ['Once upon a time', 'The history of the city'];
    const alone = [
      await generator.generate(prompts[0]!, { maxTokens: 24 }),
      await plainOnly.generate(prompts[1]!, { maxTokens: 24 }),
    ];
    const together = await Promise.all([
      generator.generate(prompts[0]!, { maxTokens: 24 }),
      plainOnly.generate(prompts[1]!, { maxTokens: 24 }),
      generator.generate(prompts[0]!, { maxTokens: 24 }),
    ]);
    expect(together.map((r) => r.text)).toEqual([alone[0]!.text, alone[1]!.text, alone[0]!.text]);
    await generator.dispose();
    await expect(plainOnly.generate(prompts[1]!)).rejects.toThrow(
      'this generator, or another generator over its target model, was disposed',
    );
  });

  it("keeps each generator's own maxQueued over a shared target queue", async () => {
    const { tokenizer, generator } = await setup();
    const strict = new TextGenerator({ tokenizer, target: generator.target, maxQueued: 0 });
    const running = generator.generate('Once upon a time', { maxTokens: 16 });
    expect(() => strict.stream('The history', { maxTokens: 4 })).toThrow(/maxQueued 0/);
    const waiting = generator.generate('The history', { maxTokens: 4 });
    await Promise.all([running, waiting]);
    expect(() => new TextGenerator({ tokenizer, target: generator.target, maxQueued: -1 })).toThrow(
      /option "maxQueued" must be an integer >= 0/,
    );
  });

  it('refuses malformed options with an OptionError and stays usable', async () => {
    const { generator } = await setup();
    const bad: [unknown, unknown, RegExp][] = [
      ['Hi', { signal: new AbortController() }, /option "signal" must be an AbortSignal/],
      ['Hi', { signal: {} }, /option "signal" must be an AbortSignal/],
      ['Hi', null, /option "options" must be an object/],
      ['Hi', { onStep: 5 }, /option "onStep" must be a function/],
      ['Hi', { tree: 'x' }, /option "tree" must be a tree budget object/],
      ['Hi', { stop: 3 }, /option "stop" must be a string or an array of strings/],
      [undefined, {}, /option "prompt" must be text, chat messages/],
      [[1, 2, 3], {}, /Int32Array\.from\(ids\) for token ids/],
    ];
    for (const [prompt, options, message] of bad) {
      const generate = generator.generate as (p: unknown, o: unknown) => Promise<unknown>;
      await expect(generate.call(generator, prompt, options)).rejects.toThrow(message);
      expect(() =>
        (generator.stream as (p: unknown, o: unknown) => unknown).call(generator, prompt, options),
      ).toThrow(message);
    }
    const r = await generator.generate('Hi', { maxTokens: 4 });
    expect(r.tokens.length).toBe(4);
  });

  it('takes one stop string as OpenAI’s API does, not as its characters', async () => {
    const { tokenizer, generator } = await setup();
    const free = await generator.generate('Once upon a time', { maxTokens: 30 });
    const stopText = tokenizer.decode(free.tokens.subarray(10, 12));
    const one = await generator.generate('Once upon a time', { maxTokens: 30, stop: stopText });
    expect(one.finishReason).toBe('stop');
    expect(one.text).toBe(free.text.slice(0, free.text.indexOf(stopText)));
  });
});
