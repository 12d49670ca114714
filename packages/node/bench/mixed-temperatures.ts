/**
 * Speculative against plain decoding in a process that serves greedy and sampling generations
 * alike, as a server does: one generator, and per development prompt a greedy and a sampled
 * generation, each decoded plainly and speculatively, in that order. The drafters learn what
 * their trees commit apart for the two kinds (a sampled target takes a copied token less often);
 * this bench shows what each kind runs at when the other runs between its generations.
 *
 *   pnpm -s --filter @treespec/node bench:mixed-temperatures [--drafter hybrid --temperature 1 --prompts 39 --max-tokens 128 --rounds 2]
 *
 * Prints one JSON report: per kind (temperature 0 and `--temperature`), the speed-up (tokens over
 * decoding seconds, prefills excluded, each side summed over the prompts and rounds) and both
 * sides' tokens/s.
 */
import { parseArgs } from 'node:util';
import { type BundleDrafter, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { generationOptions, scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: { ...generationOptions({ temperature: '1' }), drafter: { type: 'string', default: 'hybrid' } },
});
const drafter = values.drafter as BundleDrafter;
const temperatures = [0, Number(values.temperature)];
const maxTokens = Number(values['max-tokens']);
const prompts = devPrompts(Number(values.prompts));

const generator = await loadTreespec(TINY, { drafter, drafters: [drafter], tuningCache: false });
/** Tokens and decoding ms per temperature, plain [0] and speculative [1]. */
const sums = temperatures.map(() => [
  { tokens: 0, ms: 0 },
  { tokens: 0, ms: 0 },
]);
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const [i, { prompt }] of prompts.entries()) {
      for (const [t, temperature] of temperatures.entries()) {
        for (const [side, plain] of [true, false].entries()) {
          const result = await generator.generate(prompt, { maxTokens, temperature, seed: i + 1, plain });
          const sum = sums[t]![side]!;
          sum.tokens += result.tokens.length;
          sum.ms += result.stats.totalMs - result.stats.prefillMs;
        }
      }
    }
  }
} finally {
  await generator.dispose();
}
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const perSecond = ({ tokens, ms }: { tokens: number; ms: number }) => (1000 * tokens) / ms;
console.log(
  JSON.stringify(
    {
      drafter,
      prompts: prompts.length,
      rounds: Number(values.rounds),
      maxTokens,
      kinds: temperatures.map((temperature, t) => {
        const [plain, spec] = sums[t]!.map(perSecond) as [number, number];
        return {
          temperature,
          speedup: round3(spec / plain),
          tokensPerSecond: { plain: round3(plain), speculative: round3(spec) },
        };
      }),
    },
    null,
    2,
  ),
);
