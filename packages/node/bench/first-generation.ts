/**
 * What a process's first speculative generation costs against plain decoding, as one-shot
 * commands meet it (`treespec generate` against `treespec generate --drafter none`), and what a
 * later generation of a long-lived process costs. For each development prompt four fresh loads
 * (warm-ups included), in an order that rotates from prompt to prompt:
 *
 * - `plainFirst` / `first`: the prompt generated plainly / speculatively as the load's first
 *   generation;
 * - `plainSecond` / `second`: another development prompt generated first (untimed), then this one:
 *   the drafter's controller has learnt from a generation, and ONNX Runtime has planned the memory
 *   of the call shapes it saw (docs/benchmarks.md), as in a server.
 *
 * Each kind runs on its own load because ONNX Runtime plans a session's memory per call shape on
 * the shape's first call and reuses the plan afterwards: a generation after another in the same
 * session runs the shapes the first one planned.
 *
 *   pnpm -s --filter @treespec/node bench:first-generation [--drafter eagle2 --temperature 1 --prompts 8 --max-tokens 128]
 *
 * Prints one JSON report: per prompt each kind's tokens/s, and over all prompts the first and the
 * second speculative generation's speed-up over the plain one of the same kind (total tokens over
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

const KINDS = ['plainFirst', 'first', 'plainSecond', 'second'] as const;
type Kind = (typeof KINDS)[number];

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const totals = Object.fromEntries(KINDS.map((k) => [k, { tokens: 0, ms: 0 }])) as Record<
  Kind,
  { tokens: number; ms: number }
>;
const rows = [];
for (const [i, { id, prompt }] of prompts.entries()) {
  const before = prompts[(i + 1) % prompts.length]?.prompt as string;
  const row: Record<string, number | string> = { id };
  for (let k = 0; k < KINDS.length; k++) {
    const kind = KINDS[(i + k) % KINDS.length] as Kind;
    const plain = kind === 'plainFirst' || kind === 'plainSecond';
    const generator = await loadTreespec(TINY, { drafter: plain ? 'none' : drafter });
    try {
      const options = { temperature, seed: i, maxTokens };
      if (kind === 'plainSecond' || kind === 'second') await generator.generate(before, options);
      const r = await generator.generate(prompt, options);
      totals[kind].tokens += r.tokens.length;
      totals[kind].ms += r.stats.totalMs;
      row[kind] = Math.round(r.stats.tokensPerSecond);
    } finally {
      await generator.dispose();
    }
  }
  rows.push(row);
}
const rate = (kind: Kind) => totals[kind].tokens / totals[kind].ms;
console.log(
  JSON.stringify(
    {
      drafter,
      temperature,
      maxTokens,
      speedup: {
        first: round3(rate('first') / rate('plainFirst')),
        second: round3(rate('second') / rate('plainSecond')),
      },
      tokensPerSecond: rows,
    },
    null,
    2,
  ),
);
