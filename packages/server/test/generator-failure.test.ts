import type { TextGenerationStream, TextResult } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServedGenerator, type TreespecServer } from '../src/index.js';
import { streamCompletion } from './sse-client.js';

/** A generator that streams one delta and then fails, as a broken model session would. */
const failing: ServedGenerator = {
  drafter: null,
  drafters: {},
  tokenizer: { vocabSize: 100 },
  stream(): TextGenerationStream {
    const result = Promise.reject<TextResult>(new Error('session lost'));
    result.catch(() => {});
    return {
      result,
      async *[Symbol.asyncIterator]() {
        yield 'partial';
        throw new Error('session lost');
      },
    };
  },
};

let server: TreespecServer;
let base: string;

beforeAll(async () => {
  server = createServer(failing, { modelId: 'broken' });
  base = await server.listen({ port: 0 });
});

afterAll(async () => {
  await server.close();
});

describe('a generator that fails mid-generation', () => {
  it('ends a stream with an OpenAI-shaped error event and frees the slot', async () => {
    const reply = await streamCompletion(base, { model: 'broken', prompt: 'x', max_tokens: 4 });
    expect(reply.text).toBe('partial');
    expect(reply.done).toBe(false);
    expect(reply.error).toEqual({
      message: 'the generation failed; the server log has the details',
      type: 'server_error',
      param: null,
      code: 'generation_failed',
    });
    const again = await streamCompletion(base, { model: 'broken', prompt: 'x', max_tokens: 4 });
    expect(again.error).not.toBeNull();
  });

  it('answers a whole completion with a 500 in the same shape, and the server stays up', async () => {
    const response = await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'broken', prompt: 'x', max_tokens: 4 }),
    });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('generation_failed');
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });
});
