import { OptionError } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TreespecServer } from '../src/index.js';
import { streamCompletion } from './sse-client.js';
import { loadTinyGenerator, tinyWithoutChatTemplate } from './tiny.js';

const PROMPT = 'Once upon a time';
let generator: TextGenerator;

beforeAll(async () => {
  generator = await loadTinyGenerator();
});

afterAll(async () => {
  await generator.dispose();
});

async function withServer<T>(
  options: Parameters<typeof createServer>[1],
  body: (base: string, server: TreespecServer) => Promise<T>,
): Promise<T> {
  const server = createServer(generator, { modelId: 'tiny', ...options });
  const base = await server.listen({ port: 0 });
  try {
    return await body(base, server);
  } finally {
    await server.close();
  }
}

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/**
 * Waits until the server's metric `name` reads `value` (polling /metrics), so that a test acts on
 * the server's state rather than on how fast this machine generates.
 */
async function untilMetric(base: string, name: string, value: number): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const found = metricValue(await (await fetch(`${base}/metrics`)).text(), name);
    if (found === value) return;
    if (performance.now() > deadline) throw new Error(`${name} stayed ${found}, expected ${value}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Tokens of a request that is still running when the test's next requests arrive, however fast the machine. */
const LONG = 1500;

let longText: Promise<string> | undefined;
/** The text of a greedy generation of {@link LONG} tokens, generated once for the tests that compare with it. */
function longReference(): Promise<string> {
  longText ??= generator.generate(PROMPT, { maxTokens: LONG, temperature: 0 }).then((r) => r.text);
  return longText;
}

/** Streams a greedy request of {@link LONG} tokens. */
function streamLong(base: string): ReturnType<typeof streamCompletion> {
  return streamCompletion(base, { model: 'tiny', prompt: PROMPT, max_tokens: LONG, temperature: 0 });
}

/** Posts an 8-token completion request, its response unread. */
function postShort(base: string, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny', prompt: PROMPT, max_tokens: 8 }),
    ...(signal ? { signal } : {}),
  });
}

describe('serving one generation at a time', () => {
  it('answers 429 with Retry-After when the queue is full, and serves the queued request after', async () => {
    await withServer({ maxQueue: 1 }, async (base) => {
      const long = streamLong(base);
      await untilMetric(base, 'vllm:num_requests_running', 1);
      const queued = streamCompletion(base, { model: 'tiny', prompt: PROMPT, max_tokens: 8, temperature: 0 });
      await untilMetric(base, 'vllm:num_requests_waiting', 1);
      const refused = await postShort(base);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
      expect((await long).done).toBe(true);
      const second = await queued;
      expect(second.done).toBe(true);
      expect(second.text).toBe((await generator.generate(PROMPT, { maxTokens: 8, temperature: 0 })).text);
    });
  });

  it('aborts the generation of a client that disconnects mid-stream and frees the slot', async () => {
    await withServer({}, async (base) => {
      const gone = await streamCompletion(
        base,
        { model: 'tiny', prompt: PROMPT, max_tokens: 400, temperature: 0 },
        { disconnectAfter: 2 },
      );
      expect(gone.done).toBe(false);
      const next = await streamCompletion(base, {
        model: 'tiny',
        prompt: PROMPT,
        max_tokens: 12,
        temperature: 0,
      });
      expect(next.done).toBe(true);
      expect(next.text).toBe((await generator.generate(PROMPT, { maxTokens: 12, temperature: 0 })).text);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metricValue(metrics, 'vllm:num_requests_running')).toBe(0);
      expect(metricValue(metrics, 'vllm:num_requests_waiting')).toBe(0);
      // The abandoned request generated far fewer than its 400 tokens.
      expect(metricValue(metrics, 'vllm:generation_tokens_total')).toBe(12);
    });
  });

  it('drops a request whose client gives up while it waits in the queue', async () => {
    await withServer({}, async (base) => {
      const running = streamLong(base);
      await untilMetric(base, 'vllm:num_requests_running', 1);
      const controller = new AbortController();
      const waiting = postShort(base, controller.signal).catch((error: Error) => error.name);
      await untilMetric(base, 'vllm:num_requests_waiting', 1);
      controller.abort();
      expect(await waiting).toBe('AbortError');
      await untilMetric(base, 'vllm:num_requests_waiting', 0);
      expect((await running).done).toBe(true);
      const final = await (await fetch(`${base}/metrics`)).text();
      expect(metricValue(final, 'vllm:request_success_total')).toBe(1);
    });
  });

  it('requires the bearer token on /v1 when an API key is set, but not on /health', async () => {
    await withServer({ apiKey: 'sekret' }, async (base) => {
      const body = JSON.stringify({ model: 'tiny', prompt: PROMPT, max_tokens: 2 });
      const headers = { 'content-type': 'application/json' };
      const missing = await fetch(`${base}/v1/completions`, { method: 'POST', headers, body });
      expect(missing.status).toBe(401);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      const wrong = await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${base}/v1/completions`, {
        method: 'POST',
        headers: { ...headers, authorization: 'Bearer sekret' },
        body,
      });
      expect(right.status).toBe(200);
      expect((await fetch(`${base}/health`)).status).toBe(200);
      // The router decodes a path before it matches a route: written another way, a /v1 route
      // still needs the key; so does a path that matches no route.
      for (const path of ['/%761/models', '/v%31/models', '/%76%31/models/tiny', '/v1/nothing', '/']) {
        expect((await fetch(`${base}${path}`)).status, path).toBe(401);
      }
      const encoded = await fetch(`${base}/%761/completions`, { method: 'POST', headers, body });
      expect(encoded.status).toBe(401);
      expect((await fetch(`${base}/%6detrics`)).status).toBe(200);
    });
  });

  it('refuses an empty API key rather than serving without one', () => {
    expect(() => createServer(generator, { apiKey: '' })).toThrow(/option "apiKey" must be a non-empty key/);
    expect(() => createServer(generator, { apiKey: '  ' })).toThrow(OptionError);
  });

  it('binds to 127.0.0.1 by default', async () => {
    await withServer({}, async (base) => {
      expect(new URL(base).hostname).toBe('127.0.0.1');
    });
  });

  it('serves a model id with a slash, as Hugging Face names go', async () => {
    await withServer({ modelId: 'org/tiny-1' }, async (base) => {
      const model = await fetch(`${base}/v1/models/org/tiny-1`);
      expect(model.status).toBe(200);
      expect(((await model.json()) as { id: string }).id).toBe('org/tiny-1');
      expect((await fetch(`${base}/v1/models/org/other`)).status).toBe(404);
      const reply = await streamCompletion(base, {
        model: 'org/tiny-1',
        prompt: PROMPT,
        max_tokens: 4,
        temperature: 0,
      });
      expect(reply.done).toBe(true);
    });
  });

  it('on close, finishes the running stream within the grace period and refuses queued requests with 503', async () => {
    const server = createServer(generator, { modelId: 'tiny', shutdownGraceMs: 30_000 });
    const base = await server.listen({ port: 0 });
    // Long enough to be running still when the queued request arrives and the server closes.
    const running = streamLong(base);
    await untilMetric(base, 'vllm:num_requests_running', 1);
    const queued = postShort(base);
    await untilMetric(base, 'vllm:num_requests_waiting', 1);
    const closed = server.close();
    expect((await queued).status).toBe(503);
    const finished = await running;
    await closed;
    expect(finished.done).toBe(true);
    expect(finished.text).toBe(await longReference());
  });

  it('on close, aborts the running generation once the grace period is over', async () => {
    const server = createServer(generator, { modelId: 'tiny', shutdownGraceMs: 0 });
    const base = await server.listen({ port: 0 });
    const running = streamLong(base);
    // Some text out first: the cut generation must have begun.
    await untilMetric(base, 'vllm:time_to_first_token_seconds_count', 1);
    await server.close();
    const cut = await running;
    const full = await longReference();
    expect(cut.done).toBe(true);
    expect(cut.finishReason).toBe('abort');
    expect(cut.text.length).toBeGreaterThan(0);
    expect(cut.text.length).toBeLessThan(full.length);
    expect(cut.text).toBe(full.slice(0, cut.text.length));
  });

  it('on close, answers a whole completion the grace period cut with its text so far', async () => {
    const server = createServer(generator, { modelId: 'tiny', shutdownGraceMs: 0 });
    const base = await server.listen({ port: 0 });
    const running = fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: PROMPT, max_tokens: LONG, temperature: 0 }),
    });
    await untilMetric(base, 'vllm:time_to_first_token_seconds_count', 1);
    await server.close();
    const response = await running;
    expect(response.status).toBe(200);
    const body = (await response.json()) as { choices: Array<{ text: string; finish_reason: string }> };
    const full = await longReference();
    expect(body.choices[0]!.finish_reason).toBe('abort');
    expect(body.choices[0]!.text.length).toBeLessThan(full.length);
    expect(body.choices[0]!.text).toBe(full.slice(0, body.choices[0]!.text.length));
  });

  it('answers a chat request for a model without a chat template with a 400 that says so', async () => {
    const untemplated = await tinyWithoutChatTemplate();
    const bare = await loadTreespec(untemplated.directory);
    const server = createServer(bare, { modelId: 'tiny' });
    const base = await server.listen({ port: 0 });
    try {
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'Hi' }] }),
      });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { message: string; type: string } };
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toMatch(/no chat template/);
    } finally {
      await server.close();
      await bare.dispose();
      await untemplated.remove();
    }
  });

  it("reproduces a seeded answer of a request's own model-drafter tree under the auto budget", async () => {
    // Under `auto` a model drafter's trees follow the machine's timing, so equal seeds need not
    // repeat an answer; a tree the request gives is drafted whole every step, so they do.
    const auto = await loadTreespec(tinyModelDirectory(), { drafters: ['eagle2'] });
    const server = createServer(auto, { modelId: 'tiny' });
    const base = await server.listen({ port: 0 });
    try {
      const ask = async () => {
        const response = await fetch(`${base}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'tiny',
            prompt: PROMPT,
            max_tokens: 32,
            temperature: 1,
            seed: 42,
            treespec: { drafter: 'eagle2', tree: { topK: 3, frontier: 1, depth: 3, totalTokens: 8 } },
          }),
        });
        expect(response.status).toBe(200);
        return ((await response.json()) as { choices: [{ text: string }] }).choices[0].text;
      };
      const answers = new Set([await ask(), await ask(), await ask()]);
      expect(answers.size).toBe(1);
    } finally {
      await server.close();
      await auto.dispose();
    }
  });
});
