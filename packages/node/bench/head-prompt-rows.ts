/**
 * What the prompt rows an EAGLE head reads before its first draft cost and buy, in one process:
 * one load of the tiny bundle per value of `headPromptRows` asked for (0: the head reads the
 * whole prompt, as the reference EAGLE does), each generating every prompt plainly and
 * speculatively, the generators taken in an order that rotates from prompt to prompt. Each
 * setting's speculative runs are measured against the plain runs of its own generator, since two
 * loads of the same bundle need not run at the same speed. Prompts are the development prompts,
 * or `--join N` of them end to end (about 70·N tokens each) for long prompts.
 *
 *   pnpm -s --filter @treespec/node bench:head-prompt [--drafter eagle2 --rows 0,16,64
 *     --join 1 --prompts 39 --max-tokens 128 --rounds 1 --budget auto]
 *
 * Prints one JSON report; per setting: tokens per second, plain and speculative, and the speed-up;
 * the median over prompts of how much later the speculative run's first step ended than the
 * plain run's (the head's catch-up and a tree's verification against one plain step); the head's
 * first call's rows and milliseconds (medians); tau (committed tokens per step); and how many
 * greedy texts equal plain decoding's.
 */
import { parseArgs } from 'node:util';
import type { BudgetMode } from '@treespec/drafters';
import { type BundleDrafter, CallLog, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { median } from './median.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    drafter: { type: 'string', default: 'eagle2' },
    rows: { type: 'string', default: '0,16,64' },
    join: { type: 'string', default: '1' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    rounds: { type: 'string', default: '1' },
    budget: { type: 'string', default: 'auto' },
  },
});
/** Checked by the loader, which names the drafters this bundle has when it has not this one. */
const drafter = values.drafter as BundleDrafter;
const budget = values.budget as BudgetMode;
const settings = values.rows.split(',').map(Number);
const join = Number(values.join);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const dev = devPrompts(39).map((p) => p.prompt);
const prompts = dev
  .map((_, i) => Array.from({ length: join }, (_, j) => dev[(i + j) % dev.length]).join(' '))
  .slice(0, Number(values.prompts));

/** One generator's plain or speculative generations, summed. */
interface Tally {
  ms: number;
  tokens: number;
  steps: number;
  firstStepMs: number[];
  firstHeadRows: number[];
  firstHeadMs: number[];
  sameText: number;
}
const tally = (): Tally => ({
  ms: 0,
  tokens: 0,
  steps: 0,
  firstStepMs: [],
  firstHeadRows: [],
  firstHeadMs: [],
  sameText: 0,
});
/** Each setting on a generator of its own, its speculative runs measured against its plain ones. */
const setups = await Promise.all(
  settings.map(async (rows) => {
    const log = new CallLog();
    const generator = await loadTreespec(TINY, {
      drafter,
      budget,
      tuningCache: false,
      headPromptRows: rows,
      callLog: log,
    });
    return { rows, log, generator, plain: tally(), speculative: tally() };
  }),
);

for (let round = 0; round < rounds; round++) {
  for (const [i, prompt] of prompts.entries()) {
    const shift = (i + round) % setups.length;
    for (const setup of [...setups.slice(shift), ...setups.slice(0, shift)]) {
      const texts: string[] = [];
      for (const plain of (i + round) % 2 === 0 ? [true, false] : [false, true]) {
        setup.log.reset();
        const started = performance.now();
        let first = Number.NaN;
        const result = await setup.generator.generate(prompt, {
          maxTokens,
          temperature: 0,
          plain,
          onStep: () => {
            if (Number.isNaN(first)) first = performance.now() - started;
          },
        });
        const t = plain ? setup.plain : setup.speculative;
        t.ms += performance.now() - started;
        t.tokens += result.tokens.length;
        t.steps += result.stats.steps;
        t.firstStepMs.push(first);
        texts.push(result.text);
        const calls = setup.log.toJSON();
        const head = calls.model.indexOf('drafter');
        if (head >= 0) {
          t.firstHeadRows.push(calls.rows[head]!);
          t.firstHeadMs.push(calls.ms[head]!);
        }
      }
      if (texts[0] === texts[1]) setup.speculative.sameText++;
    }
  }
}
for (const setup of setups) await setup.generator.dispose();

const round2 = (x: number) => Math.round(x * 100) / 100;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const promptTokens = prompts.map((p) => setups[0]!.generator.encode(p).length);
const report = {
  drafter,
  budget,
  join,
  prompts: prompts.length,
  promptTokensMedian: median(promptTokens),
  maxTokens,
  rounds,
  settings: setups.map(({ rows, plain, speculative: t }) => ({
    headPromptRows: rows,
    plainTokensPerSecond: round2((plain.tokens / plain.ms) * 1000),
    tokensPerSecond: round2((t.tokens / t.ms) * 1000),
    speedup: round3(t.tokens / t.ms / (plain.tokens / plain.ms)),
    // Per prompt, the speculative run's first step against the plain run's on the same generator.
    firstStepExtraMsMedian: round2(median(t.firstStepMs.map((ms, k) => ms - plain.firstStepMs[k]!))),
    plainFirstStepMsMedian: round2(median(plain.firstStepMs)),
    tau: round3(t.tokens / t.steps),
    firstHeadRowsMedian: median(t.firstHeadRows),
    firstHeadMsMedian: round2(median(t.firstHeadMs)),
    sameTextAsPlain: t.sameText,
  })),
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
