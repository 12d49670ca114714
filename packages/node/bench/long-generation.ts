/**
 * Memory over a long run: generates 30,000 tokens or more in a loop over the development prompts,
 * greedy with EAGLE-2 and, alternating, plainly, through one loaded model, and samples the
 * process's resident set size and V8 heap after every prompt. A leak in the decoding loop, the KV
 * caches or the drafters shows as RSS that keeps climbing after the first round of prompts.
 *
 *   pnpm -s --filter @treespec/node bench:memory [--tokens 30000 --max-tokens 256]
 *
 * Prints one JSON report: `growthMb` compares the first sample after a warm-up of 8192 tokens
 * (ONNX Runtime's arenas and V8's heap settle during it) with the last one, and
 * `rssSlopeMbPer10kTokens` is the least-squares slope of RSS over the samples after the warm-up.
 */
import { parseArgs } from 'node:util';
import { tinyDevPrompts, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '../src/index.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    tokens: { type: 'string', default: '30000' },
    'max-tokens': { type: 'string', default: '256' },
  },
});
const wanted = Number(values.tokens);
const maxTokens = Number(values['max-tokens']);
const prompts = tinyDevPrompts().map((p) => p.prompt);

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const sample = (tokens: number) => {
  const m = process.memoryUsage();
  return { tokens, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), externalMb: mb(m.external) };
};

const generator = await loadTreespec(tinyModelDirectory(), { drafter: 'eagle2', drafters: ['none'] });
const samples = [sample(0)];
let tokens = 0;
const started = performance.now();
for (let i = 0; tokens < wanted; i++) {
  const prompt = prompts[i % prompts.length]!;
  for (const drafter of ['eagle2', 'none'] as const) {
    const result = await generator.generate(prompt, { maxTokens, drafter });
    tokens += result.tokens.length;
  }
  samples.push(sample(tokens));
}
await generator.dispose();
const WARM_UP = 8192;
const settled = samples.filter((s) => s.tokens >= WARM_UP);
const last = samples[samples.length - 1]!;
const reference = settled[0] ?? last;
const meanTokens = settled.reduce((a, s) => a + s.tokens, 0) / settled.length;
const meanRss = settled.reduce((a, s) => a + s.rssMb, 0) / settled.length;
const slope =
  settled.reduce((a, s) => a + (s.tokens - meanTokens) * (s.rssMb - meanRss), 0) /
  settled.reduce((a, s) => a + (s.tokens - meanTokens) ** 2, 0);
console.log(
  JSON.stringify(
    {
      tokens,
      maxTokensPerGeneration: maxTokens,
      seconds: Math.round((performance.now() - started) / 100) / 10,
      warmUpTokens: WARM_UP,
      rssSlopeMbPer10kTokens: Math.round(slope * 10000 * 100) / 100,
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
