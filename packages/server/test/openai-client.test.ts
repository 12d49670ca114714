import type { TextGenerator } from '@treespec/generator';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type TreespecServer } from '../src/index.js';
import { loadTinyGenerator } from './tiny.js';

const PROMPT = 'Once upon a time';
const MESSAGES = [{ role: 'user' as const, content: 'Tell me a story about a cat.' }];

let generator: TextGenerator;
let server: TreespecServer;
let client: OpenAI;

beforeAll(async () => {
  generator = await loadTinyGenerator();
  server = createServer(generator, { modelId: 'tiny' });
  const url = await server.listen({ port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

afterAll(async () => {
  await server.close();
  await generator.dispose();
});

/** The server's Prometheus text. */
async function metricsText(): Promise<string> {
  return (await fetch(`${client.baseURL.replace(/\/v1$/, '')}/metrics`)).text();
}

/** The value of the first sample of metric `name` whose labels hold `labels` (0 where none). */
function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && l.includes(labels) && !l.startsWith('#'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

describe('the official openai client against treespec serve', () => {
  it('gets the same greedy chat completion as TextGenerator.generate, with usage and stats', async () => {
    const expected = await generator.generate(MESSAGES, { maxTokens: 40, temperature: 0 });
    const completion = await client.chat.completions.create({
      model: 'tiny',
      messages: MESSAGES,
      max_tokens: 40,
      temperature: 0,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('tiny');
    expect(completion.choices[0]!.message.role).toBe('assistant');
    expect(completion.choices[0]!.message.content).toBe(expected.text);
    expect(completion.choices[0]!.finish_reason).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    expect(completion.usage).toEqual({
      prompt_tokens: expected.promptTokens.length,
      completion_tokens: expected.tokens.length,
      total_tokens: expected.promptTokens.length + expected.tokens.length,
    });
    const report = (
      completion as unknown as { treespec: { drafter: string; tau: number; acceptance_by_depth: number[] } }
    ).treespec;
    expect(report.drafter).toBe(generator.drafter!.name);
    expect(report.tau).toBeGreaterThan(1);
    expect(report.acceptance_by_depth.length).toBeGreaterThan(0);
  });

  it('gets the same greedy text completion as TextGenerator.generate', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 48, temperature: 0 });
    const completion = await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 48,
      temperature: 0,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.choices[0]!.text).toBe(expected.text);
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage!.completion_tokens).toBe(48);
    expect(completion.usage!.prompt_tokens).toBe(expected.promptTokens.length);
  });

  it('streams chat chunks that add up to the greedy text, then the usage chunk', async () => {
    const expected = await generator.generate(MESSAGES, { maxTokens: 40, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: 'tiny',
      messages: MESSAGES,
      max_tokens: 40,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let role: string | undefined;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let contentChunks = 0;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      role ??= choice.delta.role;
      if (choice.delta.content) {
        text += choice.delta.content;
        contentChunks++;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    expect(role).toBe('assistant');
    expect(text).toBe(expected.text);
    expect(contentChunks).toBeGreaterThan(1);
    expect(finish).toBe(expected.finishReason === 'length' ? 'length' : 'stop');
    expect(usage).toEqual({
      prompt_tokens: expected.promptTokens.length,
      completion_tokens: expected.tokens.length,
      total_tokens: expected.promptTokens.length + expected.tokens.length,
    });
  });

  it('streams text completion chunks that add up to the greedy text', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 32, temperature: 0 });
    const stream = await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 32,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      expect(chunk.usage ?? null).toBeNull();
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(expected.text);
    expect(finish).toBe('length');
  });

  it('ends at a stop sequence and cuts it from the text, streaming or not', async () => {
    const free = await generator.generate(PROMPT, { maxTokens: 40, temperature: 0 });
    const stop = free.text.slice(20, 26);
    const expected = free.text.slice(0, free.text.indexOf(stop));
    const completion = await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 40,
      temperature: 0,
      stop: [stop],
    });
    expect(completion.choices[0]!.text).toBe(expected);
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    const stream = await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 40,
      temperature: 0,
      stop,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(expected);
  });

  it('takes a prompt of token ids as given', async () => {
    const ids = generator.tokenizer.encode(PROMPT);
    const expected = await generator.generate(ids, { maxTokens: 16, temperature: 0 });
    const completion = await client.completions.create({
      model: 'tiny',
      prompt: Array.from(ids),
      max_tokens: 16,
      temperature: 0,
    });
    expect(completion.choices[0]!.text).toBe(expected.text);
  });

  it('decodes plainly with treespec.drafter none, to the same greedy text', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 24, temperature: 0 });
    const completion = (await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 24,
      temperature: 0,
      // @ts-expect-error the treespec extension object is not in OpenAI's types
      treespec: { drafter: 'none' },
    })) as unknown as { choices: [{ text: string }]; treespec: { drafter: string; tau: number } };
    expect(completion.choices[0].text).toBe(expected.text);
    expect(completion.treespec.drafter).toBe('none');
    expect(completion.treespec.tau).toBe(1);
  });

  it('drafts the tree budget a request gives in treespec.tree, to the same greedy text', async () => {
    const expected = await generator.generate(PROMPT, { maxTokens: 24, temperature: 0 });
    const completion = (await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 24,
      temperature: 0,
      // @ts-expect-error the treespec extension object is not in OpenAI's types
      treespec: { drafter: 'eagle2', tree: { topK: 2, frontier: 1, depth: 1, totalTokens: 4 } },
    })) as unknown as { choices: [{ text: string }]; treespec: { mean_tree_size: number } };
    expect(completion.choices[0].text).toBe(expected.text);
    expect(completion.treespec.mean_tree_size).toBeLessThanOrEqual(4);
    expect(completion.treespec.mean_tree_size).toBeGreaterThan(1);
    // The default drafter, the hybrid, drafts the tree with its EAGLE-2 head.
    const hybrid = (await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 24,
      temperature: 0,
      // @ts-expect-error the treespec extension object is not in OpenAI's types
      treespec: { tree: { topK: 2, frontier: 1, depth: 1, totalTokens: 4 } },
    })) as unknown as { choices: [{ text: string }]; treespec: { drafter: string } };
    expect(hybrid.choices[0].text).toBe(expected.text);
    expect(hybrid.treespec.drafter).toBe('hybrid');
  });

  it('reproduces a seeded sampled completion where the trees do not follow timing', async () => {
    // Plain decoding, and a model drafter under the fixed budget these tests load with; the hybrid
    // picks its drafters by measured step times, so its seeded answers may differ (docs/serve.md).
    for (const drafter of ['none', 'eagle2']) {
      const ask = () =>
        client.completions.create({
          model: 'tiny',
          prompt: PROMPT,
          max_tokens: 24,
          temperature: 0.9,
          top_p: 0.95,
          seed: 7,
          // @ts-expect-error the treespec extension object is not in OpenAI's types
          treespec: { drafter },
        });
      const [a, b] = [await ask(), await ask()];
      const expected = await generator.generate(PROMPT, {
        maxTokens: 24,
        temperature: 0.9,
        topP: 0.95,
        seed: 7,
        drafter,
      });
      expect(a.choices[0]!.text).toBe(b.choices[0]!.text);
      expect(a.choices[0]!.text).toBe(expected.text);
    }
  });

  it('lists the model and reports health', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    const health = await fetch(`${client.baseURL.replace(/\/v1$/, '')}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('exports vLLM speculative-decoding metrics that add up to the responses it served', async () => {
    const before = await metricsText();
    const completion = (await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 32,
      temperature: 0,
    })) as unknown as {
      treespec: { steps: number; accepted_lengths: number[] };
      usage: { completion_tokens: number };
    };
    const after = await metricsText();
    const delta = (name: string, labels = '') =>
      metricValue(after, name, labels) - metricValue(before, name, labels);
    const lengths = completion.treespec.accepted_lengths;
    const accepted = lengths.reduce((sum, count, k) => sum + k * count, 0);
    expect(delta('vllm:spec_decode_num_drafts_total')).toBe(completion.treespec.steps);
    expect(delta('vllm:spec_decode_num_accepted_tokens_total')).toBe(accepted);
    expect(delta('vllm:spec_decode_num_accepted_tokens_per_pos_total', 'position="0"')).toBe(
      lengths.slice(1).reduce((a, b) => a + b, 0),
    );
    expect(delta('vllm:spec_decode_num_draft_tokens_total')).toBeGreaterThanOrEqual(accepted);
    expect(delta('vllm:generation_tokens_total')).toBe(completion.usage.completion_tokens);
    expect(delta('vllm:request_success_total', 'finished_reason="length"')).toBe(1);
    // Not streamed, it still has a time to first token: arrival to its first verification step.
    expect(delta('vllm:e2e_request_latency_seconds_count')).toBe(1);
    expect(delta('vllm:time_to_first_token_seconds_count')).toBe(1);
    const firstToken = delta('vllm:time_to_first_token_seconds_sum');
    expect(firstToken).toBeGreaterThan(0);
    expect(firstToken).toBeLessThanOrEqual(delta('vllm:e2e_request_latency_seconds_sum'));
    expect(after).toContain('# TYPE vllm:e2e_request_latency_seconds histogram');
    expect(after).toMatch(
      /http_requests_total\{handler="\/v1\/completions",method="POST",status="200"\} \d+/,
    );
  });

  it('records one time to first token per request, streamed or not, as vLLM does', async () => {
    const before = await metricsText();
    await client.chat.completions.create({
      model: 'tiny',
      messages: MESSAGES,
      max_tokens: 8,
      temperature: 0,
    });
    const stream = await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    for await (const _chunk of stream) {
      // read to the end
    }
    await client.completions.create({
      model: 'tiny',
      prompt: PROMPT,
      max_tokens: 8,
      temperature: 0.7,
      seed: 1,
    });
    const after = await metricsText();
    const delta = (name: string) => metricValue(after, name) - metricValue(before, name);
    expect(delta('vllm:e2e_request_latency_seconds_count')).toBe(3);
    expect(delta('vllm:time_to_first_token_seconds_count')).toBe(3);
  });
});
