import { describe, expect, it } from 'vitest';
import type {
  EngineFinishReason,
  EngineGenerateOptions,
  EngineResult,
  TreespecEngine,
} from './treespec-engine.js';
import { TreespecLanguageModel } from './treespec-language-model.js';

/** An engine that streams fixed deltas and ends with a given reason, recording what it was asked. */
function scriptedEngine(deltas: string[], finishReason: EngineFinishReason) {
  const calls: Array<{ prompt: unknown; options: EngineGenerateOptions | undefined }> = [];
  const engine: TreespecEngine = {
    stream(prompt, options) {
      calls.push({ prompt, options });
      const result: EngineResult = {
        text: deltas.join(''),
        tokens: new Int32Array(deltas.length),
        promptTokens: new Int32Array(5),
        finishReason,
        stats: {
          tau: 2,
          acceptanceByDepth: [0.5],
          steps: 2,
          targetCalls: 3,
          meanTreeSize: 4,
          tokensPerSecond: 10,
          totalMs: 7,
        },
      };
      return {
        result: Promise.resolve(result),
        async *[Symbol.asyncIterator]() {
          yield* deltas;
        },
      };
    },
  };
  return { engine, calls };
}

const prompt = [
  { role: 'system' as const, content: 'Be brief.' },
  {
    role: 'user' as const,
    content: [
      { type: 'text' as const, text: 'Hi ' },
      { type: 'text' as const, text: 'there' },
    ],
  },
];

describe('TreespecLanguageModel', () => {
  it.each([
    ['eos', 'stop'],
    ['stop', 'stop'],
    ['length', 'length'],
    ['context', 'length'],
  ] as const)('reports treespec finish reason %s as %s and keeps the raw one', async (raw, unified) => {
    const { engine } = scriptedEngine(['a', 'b'], raw);
    const result = await new TreespecLanguageModel(engine).doGenerate({ prompt });
    expect(result.finishReason).toEqual({ unified, raw });
    expect(result.usage.inputTokens.total).toBe(5);
    expect(result.usage.outputTokens.total).toBe(2);
  });

  it('passes chat messages, sampling options and the drafter to the engine', async () => {
    const { engine, calls } = scriptedEngine(['a'], 'length');
    await new TreespecLanguageModel(engine, { drafter: 'none' }).doGenerate({
      prompt,
      maxOutputTokens: 9,
      temperature: 0.5,
      topP: 0.9,
      topK: 4,
      seed: 3,
      stopSequences: ['\n'],
    });
    expect(calls[0]!.prompt).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi there' },
    ]);
    const { signal, ...options } = calls[0]!.options!;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(options).toEqual({
      maxTokens: 9,
      temperature: 0.5,
      topP: 0.9,
      topK: 4,
      seed: 3,
      stop: ['\n'],
      drafter: 'none',
    });
  });

  it('joins the messages as plain text with promptFormat text', async () => {
    const { engine, calls } = scriptedEngine(['a'], 'length');
    await new TreespecLanguageModel(engine, { promptFormat: 'text' }).doGenerate({ prompt });
    expect(calls[0]!.prompt).toBe('Be brief.\n\nHi there');
  });

  it('streams start, metadata, text parts and a finish with usage and treespec stats', async () => {
    const { engine } = scriptedEngine(['Hel', '', 'lo'], 'eos');
    const { stream } = await new TreespecLanguageModel(engine, { modelId: 'm' }).doStream({ prompt });
    const parts: Array<{ type: string }> = [];
    for await (const part of stream as unknown as AsyncIterable<{ type: string }>) parts.push(part);
    expect(parts.map((p) => p.type)).toEqual([
      'stream-start',
      'response-metadata',
      'text-start',
      'text-delta',
      'text-delta',
      'text-end',
      'finish',
    ]);
    const finish = parts.at(-1) as unknown as {
      finishReason: unknown;
      providerMetadata: { treespec: { tau: number } };
    };
    expect(finish.finishReason).toEqual({ unified: 'stop', raw: 'eos' });
    expect(finish.providerMetadata.treespec.tau).toBe(2);
  });

  it('frees the engine for the next call when a stream is cancelled with a chunk unread', async () => {
    // Like TextGenerator's, this engine's result waits for a reader that started to finish.
    const calls: string[] = [];
    const engine: TreespecEngine = {
      stream() {
        calls.push('stream');
        const { engine: scripted } = scriptedEngine(['a', 'b', 'c', 'd'], 'abort');
        const inner = scripted.stream('', {});
        let started = false;
        let iterated!: () => void;
        const done = new Promise<void>((resolve) => {
          iterated = resolve;
        });
        const generationEnd = new Promise((resolve) => setTimeout(resolve, 10));
        return {
          result: generationEnd.then(async () => {
            if (started) await done;
            return inner.result;
          }),
          async *[Symbol.asyncIterator]() {
            started = true;
            try {
              yield* inner;
            } finally {
              iterated();
            }
          },
        };
      },
    };
    const model = new TreespecLanguageModel(engine, { modelId: 'm' });
    const controller = new AbortController();
    const { stream } = await model.doStream({ prompt, abortSignal: controller.signal });
    const reader = stream.getReader();
    const parts: string[] = [];
    while (parts.at(-1) !== 'text-delta') parts.push((await reader.read()).value!.type);
    // A chunk is queued and no pull is in flight, as when the AI SDK aborts a fast stream.
    controller.abort();
    await reader.cancel();
    const next = await Promise.race([
      model.doGenerate({ prompt }).then(() => 'generated'),
      new Promise((resolve) => setTimeout(resolve, 1000, 'still waiting for the first call')),
    ]);
    expect(next).toBe('generated');
    expect(calls).toHaveLength(2);
  });
});
