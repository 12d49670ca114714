/**
 * What skipping the target's features in runs of plain steps saves, paired in one process: each
 * development prompt is generated plainly, with EAGLE-2 fetching every step's features (as before
 * `BudgetController.wantsStepFeatures`), and with EAGLE-2 as shipped, in an order that rotates
 * prompt by prompt, through one loaded model. Both EAGLE-2 sides make the same choices (the
 * controller drops the rows it did not ask for either way), so the difference is the fetching.
 *
 *   pnpm -s --filter @treespec/node bench:plain-run-features [--temperature 1 --rounds 2 --prompts 39]
 *
 * Prints one JSON report: tokens/s of each side, each EAGLE-2 side over plain decoding, and the
 * steps whose features were skipped.
 */
import { parseArgs } from 'node:util';
import { BudgetController } from '@treespec/drafters';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    temperature: { type: 'string', default: '1' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
  },
});
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const prompts = devPrompts(Number(values.prompts)).map((p) => p.prompt);

const SIDES = ['plain', 'fetch-every-step', 'shipped'] as const;
type Side = (typeof SIDES)[number];
let side: Side = 'plain';
let skipped = 0;
const shipped = BudgetController.prototype.wantsStepFeatures;
BudgetController.prototype.wantsStepFeatures = function (this: BudgetController): boolean {
  const wanted = shipped.call(this);
  if (side === 'fetch-every-step') return true;
  if (!wanted) skipped++;
  return wanted;
};

const generator = await loadTreespec(TINY, { drafter: 'eagle2', drafters: ['none'], tuningCache: false });
const totals = Object.fromEntries(SIDES.map((s) => [s, { ms: 0, tokens: 0 }])) as Record<
  Side,
  { ms: number; tokens: number }
>;
/** Each round's ms and tokens per side, for the spread of the ratios. */
const byRound: Array<Record<Side, { ms: number; tokens: number }>> = [];
for (let round = 0; round < rounds; round++) {
  const thisRound = Object.fromEntries(SIDES.map((s) => [s, { ms: 0, tokens: 0 }])) as Record<
    Side,
    { ms: number; tokens: number }
  >;
  byRound.push(thisRound);
  for (const [i, prompt] of prompts.entries()) {
    for (let k = 0; k < SIDES.length; k++) {
      side = SIDES[(i + round + k) % SIDES.length] as Side;
      const started = performance.now();
      const result = await generator.generate(prompt, {
        maxTokens,
        temperature,
        seed: i,
        drafter: side === 'plain' ? 'none' : 'eagle2',
      });
      const ms = performance.now() - started;
      for (const t of [totals[side], thisRound[side]]) {
        t.ms += ms;
        t.tokens += result.tokens.length;
      }
    }
  }
}
await generator.dispose();

const rateOf = (t: Record<Side, { ms: number; tokens: number }>, s: Side) => t[s].tokens / t[s].ms;
const rate = (s: Side) => rateOf(totals, s);
const round4 = (x: number) => Math.round(x * 10000) / 10000;
console.log(
  JSON.stringify(
    {
      temperature,
      prompts: prompts.length,
      maxTokens,
      rounds,
      tokensPerSecond: Object.fromEntries(SIDES.map((s) => [s, Math.round(rate(s) * 10000) / 10])),
      speedup: {
        fetchEveryStep: round4(rate('fetch-every-step') / rate('plain')),
        shipped: round4(rate('shipped') / rate('plain')),
      },
      speedupByRound: byRound.map((t) => ({
        fetchEveryStep: round4(rateOf(t, 'fetch-every-step') / rateOf(t, 'plain')),
        shipped: round4(rateOf(t, 'shipped') / rateOf(t, 'plain')),
      })),
      skippedSteps: skipped,
    },
    null,
    2,
  ),
);
