/**
 * Sampled draft trees verified on the softmax weights the target computes in its graph, against
 * the same verification on its logits (their softmax in JavaScript), in one process: each
 * development prompt is generated plainly and then speculatively both ways (the order alternating
 * prompt by prompt), with the same seed, EAGLE-2 drawing sampled trees of a fixed budget.
 *
 *   pnpm -s --filter @treespec/node bench:sampled-weights [--temperature 1 --tree '{"topK":1,"depth":0,"totalTokens":2}' --rounds 2]
 *
 * Prints one JSON report: tokens/s of plain decoding and of each way, their speed-ups, and tau. The
 * logits way is the target's own, told it has no weights (`sampleWeights` false), as a bundle
 * converted before them would be.
 */
import { parseArgs } from 'node:util';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    temperature: { type: 'string', default: '1' },
    tree: { type: 'string', default: '{"topK":1,"depth":0,"totalTokens":2}' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
  },
});
const temperature = Number(values.temperature);
const tree = JSON.parse(values.tree);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const prompts = devPrompts(Number(values.prompts)).map((p) => p.prompt);

const generator = await loadTreespec(TINY, {
  drafter: 'eagle2',
  drafters: ['none'],
  draftSampling: true,
  budget: 'fixed',
  tree,
  tuningCache: false,
});
/** The target, whose `sampleWeights` the logits way hides. */
const target = generator.target as unknown as Record<string, unknown>;

type Way = 'weights' | 'logits';
const totals = {
  plain: { ms: 0, tokens: 0, steps: 0 },
  weights: { ms: 0, tokens: 0, steps: 0 },
  logits: { ms: 0, tokens: 0, steps: 0 },
};
for (let round = 0; round < rounds; round++) {
  for (const [i, prompt] of prompts.entries()) {
    const plain = await generator.generate(prompt, { maxTokens, temperature, seed: i, plain: true });
    totals.plain.ms += plain.stats.totalMs - plain.stats.prefillMs;
    totals.plain.tokens += plain.tokens.length;
    totals.plain.steps += plain.stats.steps;
    const ways: Way[] = (i + round) % 2 === 0 ? ['weights', 'logits'] : ['logits', 'weights'];
    for (const way of ways) {
      if (way === 'logits')
        Object.defineProperty(target, 'sampleWeights', { value: false, configurable: true });
      else delete target.sampleWeights;
      const r = await generator.generate(prompt, { maxTokens, temperature, seed: i });
      totals[way].ms += r.stats.totalMs - r.stats.prefillMs;
      totals[way].tokens += r.tokens.length;
      totals[way].steps += r.stats.steps;
    }
  }
}
delete target.sampleWeights;
await generator.dispose();

const rate = (t: { ms: number; tokens: number }) => (1000 * t.tokens) / t.ms;
console.log(
  JSON.stringify(
    {
      temperature,
      tree,
      prompts: prompts.length,
      maxTokens,
      rounds,
      tokensPerSecond: {
        plain: rate(totals.plain),
        weights: rate(totals.weights),
        logits: rate(totals.logits),
      },
      speedup: {
        weights: rate(totals.weights) / rate(totals.plain),
        logits: rate(totals.logits) / rate(totals.plain),
      },
      tau: {
        weights: totals.weights.tokens / totals.weights.steps,
        logits: totals.logits.tokens / totals.logits.steps,
      },
    },
    null,
    2,
  ),
);
