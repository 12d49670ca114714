import { streamCompletion } from '../test/sse-client.js';

/** What a load run does. */
export interface LoadPlan {
  /** Concurrent streaming clients. */
  clients: number;
  /** Requests each client makes, one after another. */
  requestsPerClient: number;
  /** `max_tokens` of every request (greedy). */
  maxTokens: number;
  /** The prompts; request r of client c asks prompt (c * requestsPerClient + r) mod length. */
  prompts: readonly string[];
  /** Clients c with c mod disconnectEvery = 0 drop their second request after two text events. */
  disconnectEvery: number;
}

/** What a load run measured and checked. */
export interface LoadReport {
  clients: number;
  requestsPerClient: number;
  maxTokens: number;
  requests: number;
  completed: number;
  disconnected: number;
  /** Completed responses whose text differs from the prompt's serial answer. */
  mismatched: number;
  /** Completed responses that carried an error event or never reached [DONE]. */
  failed: number;
  latencyMs: { p50: number; p99: number; max: number };
  completionTokens: number;
  wallSeconds: number;
  aggregateTokensPerSecond: number;
  serverRssMiB: { before: number; after: number };
  /** The generation slot after the run: nothing running, nothing waiting when no slot is stuck. */
  slotAfter: { running: number; waiting: number };
}

/** The server's resident memory from its `process_resident_memory_bytes` metric. */
export async function serverRssMiB(base: string): Promise<number> {
  return (await metric(base, 'process_resident_memory_bytes')) / 2 ** 20;
}

/** The value of the first sample of a metric on the server's /metrics. */
async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/** Each prompt's greedy answer asked alone, one request at a time. */
export async function serialAnswers(base: string, model: string, plan: LoadPlan): Promise<string[]> {
  const answers: string[] = [];
  for (const prompt of plan.prompts) {
    const reply = await streamCompletion(base, { model, prompt, max_tokens: plan.maxTokens, temperature: 0 });
    answers.push(reply.text);
  }
  return answers;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/**
 * Runs `plan.clients` streaming clients at once against the server at `base`, each making its
 * requests in turn, and checks every completed response against the serial answers.
 */
export async function runLoad(
  base: string,
  model: string,
  plan: LoadPlan,
  answers: readonly string[],
): Promise<LoadReport> {
  const rssBefore = await serverRssMiB(base);
  const latencies: number[] = [];
  let completed = 0;
  let disconnected = 0;
  let mismatched = 0;
  let failed = 0;
  let completionTokens = 0;
  const started = performance.now();
  const client = async (c: number) => {
    for (let r = 0; r < plan.requestsPerClient; r++) {
      const which = (c * plan.requestsPerClient + r) % plan.prompts.length;
      const leaves = c % plan.disconnectEvery === 0 && r === 1;
      const sent = performance.now();
      const reply = await streamCompletion(
        base,
        {
          model,
          prompt: plan.prompts[which],
          max_tokens: plan.maxTokens,
          temperature: 0,
          stream_options: { include_usage: true },
        },
        leaves ? { disconnectAfter: 2 } : {},
      );
      if (leaves) {
        disconnected++;
        continue;
      }
      latencies.push(performance.now() - sent);
      completed++;
      completionTokens += reply.completionTokens;
      if (!reply.done || reply.error) failed++;
      else if (reply.text !== answers[which]) mismatched++;
    }
  };
  await Promise.all(Array.from({ length: plan.clients }, (_, c) => client(c)));
  const wallSeconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    clients: plan.clients,
    requestsPerClient: plan.requestsPerClient,
    maxTokens: plan.maxTokens,
    requests: plan.clients * plan.requestsPerClient,
    completed,
    disconnected,
    mismatched,
    failed,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? Number.NaN,
    },
    completionTokens,
    wallSeconds,
    aggregateTokensPerSecond: completionTokens / wallSeconds,
    serverRssMiB: { before: rssBefore, after: await serverRssMiB(base) },
    slotAfter: {
      running: await metric(base, 'vllm:num_requests_running'),
      waiting: await metric(base, 'vllm:num_requests_waiting'),
    },
  };
}

/** Twelve short prompts, so a response sent to the wrong client shows as a mismatch. */
export const LOAD_PROMPTS = [
  'Once upon a time',
  'The history of the city',
  'In the beginning',
  'My favourite food is',
  'The weather today',
  'A long time ago in a small village',
  'The old man said',
  'Computers are',
  'The best way to learn',
  'She opened the door and',
  'Rain fell on the',
  'The first rule of',
] as const;
