import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TreespecServer } from '../src/index.js';
import { loadTinyGenerator } from './tiny.js';

let generator: TextGenerator;
let server: TreespecServer;
let base: string;

beforeAll(async () => {
  generator = await loadTinyGenerator();
  server = createServer(generator, { modelId: 'tiny', maxTokensLimit: 512, bodyLimit: 64 * 1024 });
  base = await server.listen({ port: 0 });
});

afterAll(async () => {
  await server.close();
  await generator.dispose();
});

async function post(path: string, body: string | object, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { error: Record<string, unknown> } };
}

function expectOpenAiError(
  reply: { status: number; body: { error: Record<string, unknown> } },
  status: number,
  param?: string | null,
) {
  expect(reply.status).toBe(status);
  expect(Object.keys(reply.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof reply.body.error.message).toBe('string');
  expect(reply.body.error.type).toBe(status === 404 ? 'not_found_error' : 'invalid_request_error');
  if (param !== undefined) expect(reply.body.error.param).toBe(param);
}

const chat = (extra: object) => ({ model: 'tiny', messages: [{ role: 'user', content: 'Hi' }], ...extra });

describe('bad requests get OpenAI-shaped 4xx errors, never a 500', () => {
  it('refuses malformed JSON with a 400', async () => {
    expectOpenAiError(await post('/v1/chat/completions', '{"model": "tiny", "messages": ['), 400);
  });

  it('refuses a body that is not an object', async () => {
    expectOpenAiError(await post('/v1/completions', '[1, 2, 3]'), 400);
    expectOpenAiError(await post('/v1/completions', '"text"'), 400);
  });

  it('names the field of a wrong type', async () => {
    expectOpenAiError(await post('/v1/chat/completions', chat({ temperature: 'hot' })), 400, 'temperature');
    expectOpenAiError(await post('/v1/chat/completions', chat({ max_tokens: 1.5 })), 400, 'max_tokens');
    expectOpenAiError(await post('/v1/chat/completions', chat({ messages: 'hello' })), 400, 'messages');
    expectOpenAiError(
      await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: 7 }] })),
      400,
      'messages[0].content',
    );
    expectOpenAiError(await post('/v1/completions', { model: 'tiny', prompt: { text: 'x' } }), 400, 'prompt');
  });

  it('names a missing model and answers an unknown one with 404 model_not_found', async () => {
    const missing = await post('/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }] });
    expectOpenAiError(missing, 400, 'model');
    expect(missing.body.error.code).toBe('missing_required_parameter');
    const unknown = await post('/v1/chat/completions', chat({ model: 'gpt-4o' }));
    expectOpenAiError(unknown, 404, 'model');
    expect(unknown.body.error.code).toBe('model_not_found');
  });

  it('answers a missing required field with missing_required_parameter', async () => {
    for (const [path, body, param] of [
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }] }, 'model'],
      ['/v1/chat/completions', { model: 'tiny' }, 'messages'],
      ['/v1/chat/completions', chat({ messages: [{ content: 'Hi' }] }), 'messages[0].role'],
      ['/v1/chat/completions', chat({ messages: [{ role: 'user' }] }), 'messages[0].content'],
      ['/v1/completions', { model: 'tiny' }, 'prompt'],
    ] as const) {
      const reply = await post(path, body);
      expectOpenAiError(reply, 400, param);
      expect(reply.body.error.code).toBe('missing_required_parameter');
      expect(reply.body.error.message).toBe(`Missing required parameter: '${param}'.`);
    }
  });

  it('answers a field of the wrong JSON type with invalid_type, as OpenAI does', async () => {
    for (const [path, body, param] of [
      ['/v1/chat/completions', chat({ max_tokens: 'ten' }), 'max_tokens'],
      ['/v1/chat/completions', chat({ temperature: '0.5' }), 'temperature'],
      ['/v1/chat/completions', chat({ max_tokens: 1.5 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ messages: 'hi' }), 'messages'],
      ['/v1/chat/completions', chat({ logprobs: 2 }), 'logprobs'],
      ['/v1/chat/completions', chat({ n: '1' }), 'n'],
      ['/v1/chat/completions', chat({ model: 7 }), 'model'],
      ['/v1/chat/completions', chat({ stream_options: 'yes' }), 'stream_options'],
      ['/v1/chat/completions', chat({ messages: [{ role: 'user', content: 7 }] }), 'messages[0].content'],
      ['/v1/chat/completions', chat({ messages: [{ role: 5, content: 'Hi' }] }), 'messages[0].role'],
      ['/v1/completions', { model: 'tiny', prompt: { text: 'x' } }, 'prompt'],
      ['/v1/completions', { model: 'tiny', prompt: 'x', logprobs: 0 }, 'logprobs'],
      [
        '/v1/completions',
        { model: 'tiny', prompt: 'x', treespec: { tree: { topK: 'x' } } },
        'treespec.tree.topK',
      ],
    ] as const) {
      const reply = await post(path, body);
      expectOpenAiError(reply, 400, param);
      expect(reply.body.error.code, JSON.stringify(body)).toBe('invalid_type');
    }
  });

  it('answers a value of the right type that is not allowed with invalid_value', async () => {
    for (const [path, body, param] of [
      ['/v1/chat/completions', chat({ temperature: 3 }), 'temperature'],
      ['/v1/chat/completions', chat({ max_tokens: 0 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ max_tokens: 1_000_000_000 }), 'max_tokens'],
      ['/v1/chat/completions', chat({ logprobs: true }), 'logprobs'],
      ['/v1/chat/completions', chat({ n: 2 }), 'n'],
      ['/v1/chat/completions', chat({ model: '' }), 'model'],
      ['/v1/chat/completions', chat({ messages: [] }), 'messages'],
      ['/v1/chat/completions', chat({ messages: [{ role: 'bot', content: 'Hi' }] }), 'messages[0].role'],
      ['/v1/completions', { model: 'tiny', prompt: ['a', 'b'] }, 'prompt'],
    ] as const) {
      const reply = await post(path, body);
      expectOpenAiError(reply, 400, param);
      expect(reply.body.error.code, JSON.stringify(body)).toBe('invalid_value');
    }
  });

  it('refuses stream_options without stream: true, as OpenAI does', async () => {
    for (const [path, body] of [
      ['/v1/chat/completions', chat({ stream_options: { include_usage: true } })],
      ['/v1/chat/completions', chat({ stream: false, stream_options: { include_usage: true } })],
      ['/v1/completions', { model: 'tiny', prompt: 'x', stream_options: {} }],
    ] as const) {
      const reply = await post(path, body);
      expectOpenAiError(reply, 400, 'stream_options');
      expect(reply.body.error.code).toBe('invalid_value');
      expect(reply.body.error.message).toBe(
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      );
    }
    const none = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'x',
      max_tokens: 1,
      stream_options: null,
    });
    expect(none.status).toBe(200);
  });

  it('refuses empty messages and an empty prompt', async () => {
    expectOpenAiError(await post('/v1/chat/completions', chat({ messages: [] })), 400, 'messages');
    expectOpenAiError(await post('/v1/completions', { model: 'tiny', prompt: '' }), 400, 'prompt');
    expectOpenAiError(await post('/v1/completions', { model: 'tiny', prompt: [] }), 400, 'prompt');
  });

  it('refuses max_tokens above the server cap, and out-of-range sampling values', async () => {
    const huge = await post('/v1/chat/completions', chat({ max_tokens: 1_000_000_000 }));
    expectOpenAiError(huge, 400, 'max_tokens');
    expect(huge.body.error.message).toMatch(/512/);
    expectOpenAiError(
      await post('/v1/chat/completions', chat({ max_completion_tokens: 513 })),
      400,
      'max_completion_tokens',
    );
    expectOpenAiError(await post('/v1/chat/completions', chat({ top_p: 0 })), 400, 'top_p');
    expectOpenAiError(await post('/v1/chat/completions', chat({ temperature: -1 })), 400, 'temperature');
    expectOpenAiError(await post('/v1/chat/completions', chat({ seed: -3 })), 400, 'seed');
  });

  it('refuses unsupported OpenAI fields by name', async () => {
    for (const [field, value] of [
      ['tools', [{ type: 'function', function: { name: 'f' } }]],
      ['logit_bias', { '50': 10 }],
      ['n', 2],
      ['logprobs', true],
    ] as const) {
      const reply = await post('/v1/chat/completions', chat({ [field]: value }));
      expectOpenAiError(reply, 400, field);
    }
    const format = await post('/v1/chat/completions', chat({ response_format: { type: 'json_object' } }));
    expectOpenAiError(format, 400, 'response_format.type');
    const tool = await post('/v1/chat/completions', chat({ tools: [] }));
    expect(tool.body.error.code).toBe('unsupported_parameter');
    expectOpenAiError(await post('/v1/completions', { model: 'tiny', prompt: 'x', echo: true }), 400, 'echo');
    expectOpenAiError(
      await post('/v1/completions', { model: 'tiny', prompt: 'x', logprobs: 0 }),
      400,
      'logprobs',
    );
    expectOpenAiError(await post('/v1/completions', { model: 'tiny', prompt: ['a', 'b'] }), 400, 'prompt');
  });

  it('refuses an unknown drafter and token ids outside the vocabulary', async () => {
    const drafter = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'x',
      treespec: { drafter: 'medusa' },
    });
    expectOpenAiError(drafter, 400, 'treespec.drafter');
    expect(drafter.body.error.message).toMatch(/none/);
    const tree = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'x',
      temperature: 0,
      treespec: { tree: { topK: 64, depth: 8, totalTokens: 200 } },
    });
    expectOpenAiError(tree, 400, 'treespec.tree');
    expect(tree.body.error.message).toMatch(/capacity set at load/);
    const ids = await post('/v1/completions', { model: 'tiny', prompt: [1, 10_000_000] });
    expectOpenAiError(ids, 400, 'prompt');
    // As 32-bit integers these would be ids 1 and 2.
    const wrapping = await post('/v1/completions', { model: 'tiny', prompt: [2 ** 32 + 1, 2 ** 32 + 2] });
    expectOpenAiError(wrapping, 400, 'prompt');
    expect(wrapping.body.error.message).toMatch(/4294967297, outside the vocabulary/);
  });

  it('reads and ignores the fields vLLM ignores', async () => {
    const reply = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        chat({
          max_tokens: 2,
          store: false,
          metadata: { app: 'test' },
          parallel_tool_calls: false,
          top_logprobs: 0,
          stream: true,
          stream_options: { include_usage: true, include_obfuscation: false },
        }),
      ),
    });
    expect(reply.status).toBe(200);
    expect(await reply.text()).toMatch(/data: \[DONE\]/);
  });

  it('refuses a prompt longer than the context with context_length_exceeded', async () => {
    const reply = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'the cat sat. '.repeat(3000),
      max_tokens: 4,
    });
    expectOpenAiError(reply, 400);
    expect(reply.body.error.code).toBe('context_length_exceeded');
    // Streamed, the same 400 comes before any event.
    const streamed = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'the cat sat. '.repeat(3000),
      max_tokens: 4,
      stream: true,
    });
    expectOpenAiError(streamed, 400);
    expect(streamed.body.error.code).toBe('context_length_exceeded');
  });

  it('refuses an oversized body with a 413', async () => {
    const reply = await post('/v1/completions', { model: 'tiny', prompt: 'x'.repeat(100 * 1024) });
    expect(reply.status).toBe(413);
    expect(reply.body.error.type).toBe('invalid_request_error');
    expect(reply.body.error.message).toMatch(/65536 bytes/);
  });

  it('reads a model id as the router decoded it, once, and answers an undecodable path with a 400', async () => {
    for (const path of ['/v1/models/%25E0', '/v1/models/ti%256Ey']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    }
    const bad = await fetch(`${base}/v1/models/%E0`);
    expect(bad.status).toBe(400);
    const { error } = (await bad.json()) as { error: Record<string, unknown> };
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect((await fetch(`${base}/v1/models/ti%6Ey`)).status).toBe(200);
  });

  it('answers an unknown route with a 404 in the same shape', async () => {
    const response = await fetch(`${base}/v1/embeddings`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  it('still serves a valid request after all of them', async () => {
    const reply = await post('/v1/completions', {
      model: 'tiny',
      prompt: 'Once upon a time',
      max_tokens: 8,
      temperature: 0,
    });
    expect(reply.status).toBe(200);
    const expected = await generator.generate('Once upon a time', { maxTokens: 8, temperature: 0 });
    expect((reply.body as unknown as { choices: [{ text: string }] }).choices[0].text).toBe(expected.text);
  });
});
