/**
 * What a turn of the event loop before every model call costs a decoding step. The bundled ONNX
 * Runtime's sessions run calls back to back while the loop has turned within the last 16 ms
 * (`EventLoopTurns` in `@treespec/onnxruntime`); before, every call waited for the loop's next
 * turn. This script runs, in one process, plain and speculative generations of each development
 * prompt both ways, in an order that rotates from prompt to prompt:
 *
 * - `backToBack`: the sessions as shipped;
 * - `turnPerCall`: every `run` of every session first waits for a turn of the loop
 *   (`setImmediate`), as every call did before.
 *
 * Each generation is timed up to a turn of the loop after it, so that work the loop runs on its
 * turns is charged to the generation that left it.
 *
 *   pnpm -s --filter @treespec/node bench:event-loop-turns [--drafter eagle2 --temperature 0 --prompts 39 --rounds 2]
 *
 * Prints one JSON report: the options it ran with, each way's ms per token, plain and speculative,
 * and back to back over a turn per call (below 1: faster back to back).
 */
import { parseArgs } from 'node:util';
import { loadedOnnxRuntime } from '@treespec/onnxruntime';
import type { InferenceSession } from 'onnxruntime-common';
import { type BundleDrafter, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { generationOptions, scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: generationOptions({ temperature: '0' }),
});
/** Checked by the loader, which names the drafters this bundle has when it has not this one. */
const drafter = values.drafter as BundleDrafter;
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const prompts = devPrompts(Number(values.prompts)).map((p) => p.prompt);

const generator = await loadTreespec(TINY, { drafter, drafters: ['none'], tuningCache: false });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** onnxruntime-common's session class, whose `run` every session of the process inherits. */
const sessionClass = (loadedOnnxRuntime()!.InferenceSession as unknown as { prototype: InferenceSession })
  .prototype;
const run = sessionClass.run;
const WAYS = ['backToBack', 'turnPerCall'] as const;
let way: (typeof WAYS)[number] = 'backToBack';
sessionClass.run = async function (this: InferenceSession, ...args: Parameters<typeof run>) {
  if (way === 'turnPerCall') await nextTurn();
  return run.apply(this, args);
} as typeof run;

const totals = Object.fromEntries(
  WAYS.flatMap((w) => [`${w}/plain`, `${w}/speculative`]).map((k) => [k, { ms: 0, tokens: 0 }]),
);
for (let round = 0; round < rounds; round++) {
  for (const [i, prompt] of prompts.entries()) {
    for (let k = 0; k < WAYS.length; k++) {
      way = WAYS[(i + k + round) % WAYS.length]!;
      for (const plain of (i + k) % 2 === 0 ? [true, false] : [false, true]) {
        const started = performance.now();
        const result = await generator.generate(prompt, {
          maxTokens,
          temperature,
          seed: i,
          drafter: plain ? 'none' : drafter,
        });
        await nextTurn();
        const total = totals[`${way}/${plain ? 'plain' : 'speculative'}`]!;
        total.ms += performance.now() - started;
        total.tokens += result.tokens.length;
      }
    }
  }
}
sessionClass.run = run;
await generator.dispose();

const msPerToken = (key: string) => totals[key]!.ms / totals[key]!.tokens;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
console.log(
  JSON.stringify(
    {
      options: values,
      msPerToken: Object.fromEntries(Object.keys(totals).map((k) => [k, round4(msPerToken(k))])),
      backToBackOverTurnPerCall: {
        plain: round4(msPerToken('backToBack/plain') / msPerToken('turnPerCall/plain')),
        speculative: round4(msPerToken('backToBack/speculative') / msPerToken('turnPerCall/speculative')),
      },
    },
    null,
    2,
  ),
);
