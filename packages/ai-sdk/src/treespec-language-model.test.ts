import { describe, expect, it } from 'vitest';
import type {
  EngineChatMessage,
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

/** Settles with the promise, or rejects after `ms` so that a hang fails the test instead of stalling it. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer!: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** An engine whose first generation runs until `end()` is called; later ones end at once. */
function gatedEngine() {
  const { engine: scripted } = scriptedEngine(['a'], 'length');
  let end!: () => void;
  const gate = new Promise<void>((resolve) => {
    end = resolve;
  });
  let calls = 0;
  const engine: TreespecEngine = {
    stream(prompt, options) {
      const inner = scripted.stream(prompt, options);
      if (calls++ > 0) return inner;
      return {
        result: gate.then(() => inner.result),
        async *[Symbol.asyncIterator]() {
          await gate;
          yield* inner;
        },
      };
    },
  };
  return { engine, end, calls: () => calls };
}

/**
 * What `TreespecWorkerClient` of `@treespec/web` returns, type for type: a `WorkerResult`, whose
 * `promptTokens` is a count and `tokens` a plain array, with fields of its own.
 */
interface WorkerLikeResult {
  text: string;
  tokens: number[];
  promptTokens: number;
  finishReason: EngineFinishReason;
  stats: EngineResult['stats'] & { promptTokens: number; generatedTokens: number };
  postMs: number;
  kvCacheLocation: string;
}

/** The browser worker client's `stream`, as a fake (its options are `ClientGenerateOptions`). */
class WorkerLikeClient {
  stream(
    prompt: string | readonly EngineChatMessage[],
    options: EngineGenerateOptions & { trees?: boolean; onDelta?: (text: string) => void } = {},
  ): AsyncIterable<string> & { readonly result: Promise<WorkerLikeResult> } {
    const deltas = ['Hel', 'lo'];
    for (const delta of deltas) options.onDelta?.(delta);
    const result: WorkerLikeResult = {
      text: deltas.join(''),
      tokens: [7, 8],
      promptTokens: typeof prompt === 'string' ? 3 : 4,
      finishReason: 'eos',
      stats: {
        tau: 2,
        acceptanceByDepth: [0.5],
        steps: 1,
        targetCalls: 2,
        meanTreeSize: 3,
        tokensPerSecond: 10,
        totalMs: 5,
        promptTokens: 3,
        generatedTokens: 2,
      },
      postMs: 0.1,
      kvCacheLocation: 'cpu',
    };
    return {
      result: Promise.resolve(result),
      async *[Symbol.asyncIterator]() {
        yield* deltas;
      },
    };
  }
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
    // This engine's result waits for a reader that started to finish (as TextGenerator's once did).
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
  it('frees the engine when the generation ends, with its stream neither read to the end nor cancelled', async () => {
    // As when a caller breaks out of streamText's textStream: the AI SDK stops pulling and cancels nothing.
    const { engine, calls } = scriptedEngine(['a', 'b', 'c', 'd', 'e', 'f'], 'length');
    const model = new TreespecLanguageModel(engine);
    const { stream } = await model.doStream({ prompt });
    const reader = stream.getReader();
    while ((await reader.read()).value?.type !== 'text-delta') {}
    const next = await within(model.doGenerate({ prompt }), 5000, 'the call after an unread stream');
    expect(next.content).toEqual([{ type: 'text', text: 'abcdef' }]);
    expect(calls).toHaveLength(2);
    // The stream left behind still reads to its end.
    const rest: string[] = [];
    for (let part = await reader.read(); !part.done; part = await reader.read()) rest.push(part.value.type);
    expect(rest.at(-1)).toBe('finish');
  });

  it('frees the engine when it refuses a call (a bad option), for streams and generations alike', async () => {
    const refusal = new Error('stop strings must not be empty');
    const { engine: scripted } = scriptedEngine(['a'], 'length');
    let refuse = 2;
    const engine: TreespecEngine = {
      stream(prompt, options) {
        if (refuse-- > 0) throw refusal;
        return scripted.stream(prompt, options);
      },
    };
    const model = new TreespecLanguageModel(engine);
    const { stream } = await model.doStream({ prompt, stopSequences: [''] });
    const reader = stream.getReader();
    await expect(
      within(
        reader.read().then(() => reader.read()),
        5000,
        'the refused stream',
      ),
    ).rejects.toBe(refusal);
    await expect(
      within(model.doGenerate({ prompt, stopSequences: [''] }), 5000, 'the refused generation'),
    ).rejects.toBe(refusal);
    const next = await within(model.doGenerate({ prompt }), 5000, 'the call after the refusals');
    expect(next.content).toEqual([{ type: 'text', text: 'a' }]);
  });

  it('rejects at once with the abort error, generating nothing, when abortSignal has already aborted', async () => {
    const { engine, calls } = scriptedEngine(['a'], 'length');
    const model = new TreespecLanguageModel(engine);
    const reason = new Error('aborted before the call');
    await expect(model.doGenerate({ prompt, abortSignal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(model.doStream({ prompt, abortSignal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expect(model.doGenerate({ prompt, abortSignal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(calls).toHaveLength(0);
    await within(model.doGenerate({ prompt }), 5000, 'the next call');
    expect(calls).toHaveLength(1);
  });

  it('takes an aborted call out of the queue at once, while the call ahead of it runs on', async () => {
    const { engine, end, calls } = gatedEngine();
    const model = new TreespecLanguageModel(engine);
    try {
      const running = model.doGenerate({ prompt });
      const generation = new AbortController();
      const queuedGeneration = model.doGenerate({ prompt, abortSignal: generation.signal });
      const streaming = new AbortController();
      const { stream } = await model.doStream({ prompt, abortSignal: streaming.signal });
      const reader = stream.getReader();
      expect((await reader.read()).value?.type).toBe('stream-start');
      const queuedStream = reader.read();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const reason = new Error('no longer wanted');
      generation.abort(reason);
      streaming.abort(reason);
      await expect(within(queuedGeneration, 5000, 'the aborted queued generation')).rejects.toBe(reason);
      await expect(within(queuedStream, 5000, 'the aborted queued stream')).rejects.toBe(reason);
      expect(calls()).toBe(1);
      const after = model.doGenerate({ prompt });
      end();
      await within(running, 5000, 'the running call');
      await within(after, 5000, 'the call behind the aborted ones');
      expect(calls()).toBe(2);
    } finally {
      end();
    }
  });

  it('drives an engine shaped like the browser worker client, whose promptTokens is a count', async () => {
    // Type-level: the worker client's `stream` is a TreespecEngine (checked by `tsc`).
    const engine: TreespecEngine = new WorkerLikeClient();
    const model = new TreespecLanguageModel(engine);
    const generated = await model.doGenerate({ prompt });
    expect(generated.content).toEqual([{ type: 'text', text: 'Hello' }]);
    expect(generated.usage.inputTokens).toEqual({ total: 4, noCache: 4, cacheRead: 0, cacheWrite: 0 });
    expect(generated.usage.outputTokens.total).toBe(2);
    const { stream } = await new TreespecLanguageModel(engine, { promptFormat: 'text' }).doStream({ prompt });
    const parts: Array<{ type: string; usage?: { inputTokens: { total: number } } }> = [];
    for await (const part of stream as unknown as AsyncIterable<(typeof parts)[number]>) parts.push(part);
    expect(parts.at(-1)?.usage?.inputTokens.total).toBe(3);
  });
});
