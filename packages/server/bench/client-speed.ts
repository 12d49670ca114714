import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tinyDevPrompts } from '@treespec/model-tiny/node';
import OpenAI from 'openai';

/**
 * The speed-up as a user of the OpenAI API sees it: one server process with the tiny bundle, the
 * official `openai` client streaming completions of the development prompts, each prompt asked
 * once per drafter (`treespec.drafter`, plain decoding as `none`) in an order that rotates from
 * prompt to prompt, so the machine's drift falls on every drafter alike. Times are the client's:
 * from the request to the stream's end, prefill, HTTP and server-sent events included.
 *
 *   pnpm -s --filter @treespec/server bench:client [--drafters hybrid,eagle2 --temperature 0
 *     --prompts 39 --max-tokens 128 --rounds 1 --out client.json]
 *
 * Prints one JSON report; per drafter: completion tokens per second of client time, the speed-up
 * over `none` in the same run, the median time to the first text, tokens per second after it, the
 * server's mean tau, and (greedy) how many answers equal plain decoding's.
 */
const { values } = parseArgs({
  // pnpm passes on a `--` written before the options.
  args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
  options: {
    drafters: { type: 'string', default: 'hybrid,eagle2' },
    temperature: { type: 'string', default: '0' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const drafters = [...values.drafters.split(',').filter((d) => d && d !== 'none'), 'none'];
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const prompts = tinyDevPrompts()
  .slice(0, Number(values.prompts))
  .map((p) => p.prompt);

/** One drafter's requests, summed. */
interface Tally {
  tokens: number;
  ms: number;
  afterFirstTokens: number;
  afterFirstMs: number;
  firstMs: number[];
  tau: number[];
  texts: string[];
}
const tallies = new Map<string, Tally>(
  drafters.map((d) => [
    d,
    { tokens: 0, ms: 0, afterFirstTokens: 0, afterFirstMs: 0, firstMs: [], tau: [], texts: [] },
  ]),
);

/** The `treespec` object the server adds to a stream's last chunk. */
interface TreespecChunk {
  treespec?: { tau: number };
}

async function ask(
  client: OpenAI,
  prompt: string,
  drafter: string,
  into: Tally,
  keepText: boolean,
): Promise<void> {
  const started = performance.now();
  const stream = await client.completions.create({
    model: 'tiny',
    prompt,
    max_tokens: maxTokens,
    temperature,
    seed: 1,
    stream: true,
    stream_options: { include_usage: true },
    // @ts-expect-error the treespec extension object is not in OpenAI's types
    treespec: { drafter },
  });
  let first = Number.NaN;
  let text = '';
  let tokens = 0;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.text ?? '';
    if (delta && Number.isNaN(first)) first = performance.now() - started;
    text += delta;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
    const extension = (chunk as TreespecChunk).treespec;
    if (extension) into.tau.push(extension.tau);
  }
  const ms = performance.now() - started;
  into.tokens += tokens;
  into.ms += ms;
  into.firstMs.push(first);
  into.afterFirstTokens += tokens - 1;
  into.afterFirstMs += ms - first;
  if (keepText) into.texts.push(text);
}

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    fileURLToPath(new URL('serve-tiny.ts', import.meta.url)),
    '--drafters',
    drafters.filter((d) => d !== 'none').join(','),
    '--no-tuning-cache',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const [line] = (await once(child.stdout!, 'data')) as [Buffer];
const base = /listening (\S+)/.exec(line.toString())![1]!;
try {
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'unused' });
  for (let round = 0; round < rounds; round++) {
    for (const [i, prompt] of prompts.entries()) {
      const shift = (i + round) % drafters.length;
      for (const drafter of [...drafters.slice(shift), ...drafters.slice(0, shift)]) {
        await ask(client, prompt, drafter, tallies.get(drafter)!, round === 0);
      }
    }
  }
  const plain = tallies.get('none')!;
  const plainRate = plain.tokens / plain.ms;
  const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
  const round2 = (x: number) => Math.round(x * 100) / 100;
  const round3 = (x: number) => Math.round(x * 1000) / 1000;
  const report = {
    temperature,
    prompts: prompts.length,
    maxTokens,
    rounds,
    drafters: Object.fromEntries(
      drafters.map((d) => {
        const t = tallies.get(d)!;
        return [
          d,
          {
            requests: t.firstMs.length,
            completionTokens: t.tokens,
            tokensPerSecond: round2((t.tokens / t.ms) * 1000),
            speedup: round3(t.tokens / t.ms / plainRate),
            firstTextMsMedian: round2(median(t.firstMs)),
            afterFirstTokensPerSecond: round2((t.afterFirstTokens / t.afterFirstMs) * 1000),
            meanTau: round3(t.tau.reduce((a, b) => a + b, 0) / t.tau.length),
            ...(temperature === 0
              ? { sameTextAsPlain: t.texts.filter((text, k) => text === plain.texts[k]).length }
              : {}),
          },
        ];
      }),
    ),
  };
  const json = JSON.stringify(report, null, 2);
  process.stdout.write(`${json}\n`);
  if (values.out) writeFileSync(values.out, `${json}\n`);
} finally {
  child.kill('SIGTERM');
  await once(child, 'exit');
}
