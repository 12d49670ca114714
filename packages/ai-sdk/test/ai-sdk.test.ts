import type { TextGenerator } from '@treespec/generator';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTreespec, type TreespecEngine, type TreespecProvider } from '../src/index.js';
import { loadTinyGenerator } from './tiny.js';

const PROMPT = 'Once upon a time';
const MESSAGES = [
  { role: 'system' as const, content: 'You are a storyteller.' },
  { role: 'user' as const, content: 'Tell me about the sea.' },
];

/** Settles with the promise, or rejects after `ms` so that a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let generator: TextGenerator;
let treespec: TreespecProvider;

beforeAll(async () => {
  generator = await loadTinyGenerator();
  const engine: TreespecEngine = generator;
  treespec = createTreespec(engine);
});

afterAll(async () => {
  await generator.dispose();
});

describe('the AI SDK provider over TextGenerator', () => {
  it('generateText gives the greedy text of TextGenerator.generate, with usage, finish reason and stats', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 32, temperature: 0 });
    const result = await generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 32,
      temperature: 0,
    });
    expect(result.text).toBe(expected.text);
    expect(result.finishReason).toBe('length');
    expect(result.usage.inputTokens).toBe(expected.promptTokens.length);
    expect(result.usage.outputTokens).toBe(32);
    expect(result.warnings ?? []).toEqual([]);
    const stats = result.providerMetadata?.treespec as { tau: number; acceptanceByDepth: number[] };
    expect(stats.tau).toBeGreaterThan(1);
    expect(stats.acceptanceByDepth.length).toBeGreaterThan(0);
  });

  it('renders messages with the chat template, as TextGenerator does for a chat', async () => {
    const expected = await generator.generate(MESSAGES, { maxTokens: 24, temperature: 0 });
    const result = await generateText({
      model: treespec(),
      instructions: MESSAGES[0].content,
      messages: [MESSAGES[1]],
      maxOutputTokens: 24,
      temperature: 0,
    });
    expect(result.text).toBe(expected.text);
  });

  it('streamText streams deltas that add up to the same text', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 40, temperature: 0 });
    const result = streamText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 40,
      temperature: 0,
    });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.join('')).toBe(expected.text);
    expect(await result.finishReason).toBe('length');
    expect((await result.usage).outputTokens).toBe(40);
  });

  it('ends at a stop sequence with finish reason stop', async () => {
    const free = await generator.generate(PROMPT, { maxTokens: 40, temperature: 0 });
    const stop = free.text.slice(20, 26);
    const result = await generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 40,
      temperature: 0,
      stopSequences: [stop],
    });
    expect(result.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(result.finishReason).toBe('stop');
  });

  it('aborts generateText, and the next call runs', async () => {
    const controller = new AbortController();
    const call = generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 400,
      temperature: 0,
      abortSignal: controller.signal,
      maxRetries: 0,
    });
    setTimeout(() => controller.abort(), 100);
    await expect(call).rejects.toThrow();
    const after = await generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 8,
      temperature: 0,
    });
    expect(after.text).toBe((await generator.generate(PROMPT, { maxTokens: 8, temperature: 0 })).text);
  });

  it('aborts streamText mid-stream, and the next call runs', async () => {
    const controller = new AbortController();
    const result = streamText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 200,
      temperature: 0,
      abortSignal: controller.signal,
      onError: () => {},
    });
    let text = '';
    for await (const delta of result.textStream) {
      text += delta;
      if (text.length > 10) controller.abort();
    }
    const full = await generator.generate(PROMPT, { maxTokens: 200, temperature: 0 });
    expect(text.length).toBeLessThan(full.text.length);
    expect(full.text.startsWith(text)).toBe(true);
    const after = await generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 8,
      temperature: 0,
    });
    expect(after.text).toBe(full.text.slice(0, after.text.length));
  });

  it('runs concurrent calls one at a time, each with its own answer', async () => {
    const prompts = ['Once upon a time', 'The history of the city', 'In the beginning'];
    const results = await Promise.all(
      prompts.map((prompt) =>
        generateText({
          model: treespec('tiny', { promptFormat: 'text' }),
          prompt,
          maxOutputTokens: 16,
          temperature: 0,
        }),
      ),
    );
    for (const [i, prompt] of prompts.entries()) {
      expect(results[i]!.text).toBe(
        (await generator.generate(prompt, { maxTokens: 16, temperature: 0 })).text,
      );
    }
  });

  it('warns that tools are unsupported and refuses file parts', async () => {
    const model = treespec('tiny', { promptFormat: 'text' });
    const result = await model.doGenerate({
      prompt: [{ role: 'user', content: [{ type: 'text', text: PROMPT }] }],
      maxOutputTokens: 4,
      tools: [{ type: 'function', name: 'lookup', inputSchema: { type: 'object' } }],
    });
    expect(result.warnings).toEqual([
      { type: 'unsupported', feature: 'tools', details: 'treespec generates free text' },
    ]);
    await expect(
      model.doGenerate({
        prompt: [
          {
            role: 'user',
            content: [{ type: 'file', mediaType: 'image/png', data: { type: 'data', data: 'AA==' } }],
          },
        ],
      }),
    ).rejects.toThrow(/file parts in user messages/);
  });
  it('frees the model once a streamText whose textStream the caller broke out of ends', async () => {
    const result = streamText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 200,
      temperature: 0,
    });
    let deltas = 0;
    for await (const _ of result.textStream) if (++deltas === 3) break;
    const after = await within(
      generateText({ model: treespec('tiny', { promptFormat: 'text' }), prompt: PROMPT, maxOutputTokens: 8 }),
      60_000,
      'generateText after breaking out of a textStream',
    );
    expect(after.text).toBe((await generator.generate(PROMPT, { maxTokens: 8, temperature: 0 })).text);
  });

  it('frees the model after a streamText the generator refuses (an empty stop sequence)', async () => {
    const result = streamText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 8,
      stopSequences: [''],
      onError: () => {},
    });
    let text = '';
    const read = (async () => {
      for await (const delta of result.textStream) text += delta;
    })();
    await expect(within(read, 10_000, 'the refused streamText')).rejects.toThrow(/stop\[0\]/);
    expect(text).toBe('');
    const after = await within(
      generateText({ model: treespec('tiny', { promptFormat: 'text' }), prompt: PROMPT, maxOutputTokens: 8 }),
      10_000,
      'generateText after the refused streamText',
    );
    expect(after.text.length).toBeGreaterThan(0);
  });

  it('rejects generateText and ends streamText at once, without generating, on an already-aborted signal', async () => {
    const reason = new Error('aborted before the call');
    await expect(
      within(
        generateText({
          model: treespec('tiny', { promptFormat: 'text' }),
          prompt: PROMPT,
          maxOutputTokens: 64,
          abortSignal: AbortSignal.abort(reason),
          maxRetries: 0,
        }),
        10_000,
        'generateText on an aborted signal',
      ),
    ).rejects.toBe(reason);
    const result = streamText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 64,
      abortSignal: AbortSignal.abort(reason),
      onError: () => {},
    });
    let text = '';
    const read = (async () => {
      for await (const delta of result.textStream) text += delta;
    })();
    await within(
      read.catch(() => undefined),
      10_000,
      'streamText on an aborted signal',
    );
    expect(text).toBe('');
  });

  it('rejects a call aborted while it waits behind another at once, not when the other ends', async () => {
    const longController = new AbortController();
    let longEnded = false;
    const long = generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: PROMPT,
      maxOutputTokens: 1000,
      abortSignal: longController.signal,
      maxRetries: 0,
    }).finally(() => {
      longEnded = true;
    });
    long.catch(() => undefined);
    const controller = new AbortController();
    const queued = generateText({
      model: treespec('tiny', { promptFormat: 'text' }),
      prompt: 'Hi',
      maxOutputTokens: 8,
      abortSignal: controller.signal,
      maxRetries: 0,
    });
    setTimeout(() => controller.abort(), 20);
    await expect(within(queued, 10_000, 'the aborted queued call')).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(longEnded).toBe(false);
    longController.abort();
    await within(
      long.catch(() => undefined),
      30_000,
      'the long call',
    );
  });
});
