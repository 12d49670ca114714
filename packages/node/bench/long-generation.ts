/**
 * Memory over a long run: generates 10,000 tokens or more in a loop over the development prompts,
 * greedy with EAGLE-2 and, alternating, plainly, through one loaded model, and samples the
 * process's resident set size and V8 heap after every prompt. A leak in the decoding loop, the KV
 * caches or the drafters shows as RSS that keeps climbing after the first round of prompts.
 *
 *   pnpm --filter @treespec/node bench:memory [-- --tokens 10000 --max-tokens 256]
 *
 * Prints one JSON report; `growthMb` compares the end of the first round with the end of the run.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { tinyDevPromptsPath, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '../src/index.js';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '10000' },
    'max-tokens': { type: 'string', default: '256' },
  },
});
const wanted = Number(values.tokens);
const maxTokens = Number(values['max-tokens']);
const prompts = readFileSync(tinyDevPromptsPath(), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => (JSON.parse(line) as { prompt: string }).prompt);

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const sample = (tokens: number) => {
  const m = process.memoryUsage();
  return { tokens, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external) };
};

const generator = await loadTreespec(tinyModelDirectory(), { drafter: 'eagle2', drafters: ['none'] });
const samples = [sample(0)];
let tokens = 0;
let firstRound: ReturnType<typeof sample> | null = null;
const started = performance.now();
for (let i = 0; tokens < wanted; i++) {
  const prompt = prompts[i % prompts.length]!;
  for (const drafter of ['eagle2', 'none'] as const) {
    const result = await generator.generate(prompt, { maxTokens, drafter });
    tokens += result.tokens.length;
  }
  samples.push(sample(tokens));
  if (i === prompts.length - 1) firstRound = samples[samples.length - 1]!;
}
await generator.dispose();
const last = samples[samples.length - 1]!;
const reference = firstRound ?? samples[1]!;
console.log(
  JSON.stringify(
    {
      tokens,
      maxTokensPerGeneration: maxTokens,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      growthMb: {
        rss: Math.round((last.rssMb - reference.rssMb) * 10) / 10,
        heapUsed: Math.round((last.heapUsedMb - reference.heapUsedMb) * 10) / 10,
      },
      samples,
    },
    null,
    2,
  ),
);
