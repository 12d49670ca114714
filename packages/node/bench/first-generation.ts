/**
 * What a process's first speculative generation costs against plain decoding, as a one-shot
 * command (`treespec generate --compare`) meets it: for each development prompt a fresh load (its
 * warm-up included), the command's two 4-token warm-ups, then the first speculative generation, a
 * plain one and a second speculative one, all at the same temperature and seed. The first
 * generation pays for whatever a drafter learns afresh in a process (a budget controller's start
 * run, say); the second shows the same drafter once it has.
 *
 *   pnpm -s --filter @treespec/node bench:first-generation [--drafter eagle2 --temperature 1 --prompts 8 --max-tokens 128]
 *
 * Prints one JSON report: per prompt the three generations' tokens/s, and over all prompts the
 * first and the second speculative generation's speed-up over plain decoding (total tokens over
 * total seconds, each).
 */
import { parseArgs } from 'node:util';
import { type BundleDrafter, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    drafter: { type: 'string', default: 'eagle2' },
    temperature: { type: 'string', default: '1' },
    prompts: { type: 'string', default: '8' },
    'max-tokens': { type: 'string', default: '128' },
  },
});
/** Checked by the loader, which names the drafters this bundle has when it has not this one. */
const drafter = values.drafter as BundleDrafter;
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);
const prompts = devPrompts(Number(values.prompts));

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const totals = { first: { tokens: 0, ms: 0 }, plain: { tokens: 0, ms: 0 }, second: { tokens: 0, ms: 0 } };
const rows = [];
for (const [i, { id, prompt }] of prompts.entries()) {
  const generator = await loadTreespec(TINY, { drafter });
  try {
    const options = { temperature, seed: i, maxTokens };
    await generator.generate(prompt, { ...options, maxTokens: 4 });
    await generator.generate(prompt, { ...options, maxTokens: 4, plain: true });
    const row: Record<string, number | string> = { id };
    for (const kind of ['first', 'plain', 'second'] as const) {
      const r = await generator.generate(prompt, {
        ...options,
        ...(kind === 'plain' ? { plain: true } : {}),
      });
      totals[kind].tokens += r.tokens.length;
      totals[kind].ms += r.stats.totalMs;
      row[kind] = Math.round(r.stats.tokensPerSecond);
    }
    rows.push(row);
  } finally {
    await generator.dispose();
  }
}
const rate = (t: { tokens: number; ms: number }) => t.tokens / t.ms;
console.log(
  JSON.stringify(
    {
      drafter,
      temperature,
      maxTokens,
      speedup: {
        first: round3(rate(totals.first) / rate(totals.plain)),
        second: round3(rate(totals.second) / rate(totals.plain)),
      },
      tokensPerSecond: rows,
    },
    null,
    2,
  ),
);
