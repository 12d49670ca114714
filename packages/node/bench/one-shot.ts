/**
 * Speculative against plain decoding as one-shot commands meet it: every generation in a process
 * of its own (`treespec generate` against `treespec generate --drafter none`), which loads the
 * bundle as the command does (warm-ups included, ONNX Runtime's memory plans off), generates one
 * development prompt and exits. Per prompt the two processes run in an order that alternates from
 * prompt to prompt, so the shared machine's drift hits both sides alike. Unlike
 * `bench:first-generation` (fresh loads in one warm process), each side pays what a new process
 * pays: code compiled on first use, ONNX Runtime's first calls of each shape.
 *
 *   pnpm -s --filter @treespec/node bench:one-shot [--drafter eagle2 --temperature 1 --prompts 39 --max-tokens 128]
 *
 * Prints one JSON report: the speed-up (total tokens over total seconds, each side, prefills
 * included), the geometric mean of the per-prompt ratios with a 95 % interval, the speculative
 * side's share of plain steps (the budget controller's), and per prompt both sides' tokens/s.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { type BundleDrafter, loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    drafter: { type: 'string', default: 'eagle2' },
    temperature: { type: 'string', default: '1' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
    /** Internal: generate prompt N in this process and print its line. */
    child: { type: 'string' },
  },
});
/** Checked by the loader, which names the drafters this bundle has when it has not this one. */
const drafter = values.drafter as BundleDrafter;
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);

/** What one process's generation reports. */
interface OneShot {
  tokens: number;
  ms: number;
  steps: number;
  plainSteps: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Generates prompt `index` on a fresh load, as `treespec generate` loads, and prints its {@link OneShot}. */
async function child(index: number): Promise<void> {
  const prompt = devPrompts(index + 1)[index]!.prompt;
  // As `treespec generate` loads: no memory plans, and a greedy generation warms no sampling calls.
  const generator = await loadTreespec(TINY, {
    drafter,
    tuningCache: false,
    memoryPattern: false,
    ...(temperature === 0 ? { warmUp: 'greedy' as const } : {}),
  });
  const started = performance.now();
  const result = await generator.generate(prompt, {
    maxTokens,
    temperature,
    ...(temperature > 0 ? { seed: index + 1 } : {}),
  });
  const ms = performance.now() - started;
  const controller = result.stats.controller;
  const line: OneShot = {
    tokens: result.tokens.length,
    ms,
    steps: controller?.steps ?? result.stats.steps,
    plainSteps: controller?.plainSteps ?? result.stats.steps,
  };
  console.log(JSON.stringify(line));
  await generator.dispose();
}

/** Runs prompt `index` with `side` in a new process. */
function oneShot(index: number, side: BundleDrafter): OneShot {
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      import.meta.filename,
      '--child',
      String(index),
      '--drafter',
      side,
      '--temperature',
      String(temperature),
      '--max-tokens',
      String(maxTokens),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as OneShot;
}

if (values.child !== undefined) {
  await child(Number(values.child));
} else {
  const count = Number(values.prompts);
  const perPrompt: { prompt: number; speculative: number; plain: number }[] = [];
  const totals = { specTokens: 0, specMs: 0, plainTokens: 0, plainMs: 0, steps: 0, plainSteps: 0 };
  const logRatios: number[] = [];
  for (let i = 0; i < count; i++) {
    const order: BundleDrafter[] = i % 2 === 0 ? [drafter, 'none'] : ['none', drafter];
    const runs = new Map(order.map((side) => [side, oneShot(i, side)]));
    const spec = runs.get(drafter)!;
    const plain = runs.get('none')!;
    totals.specTokens += spec.tokens;
    totals.specMs += spec.ms;
    totals.plainTokens += plain.tokens;
    totals.plainMs += plain.ms;
    totals.steps += spec.steps;
    totals.plainSteps += spec.plainSteps;
    const specRate = (spec.tokens / spec.ms) * 1000;
    const plainRate = (plain.tokens / plain.ms) * 1000;
    logRatios.push(Math.log(specRate / plainRate));
    perPrompt.push({ prompt: i, speculative: Math.round(specRate), plain: Math.round(plainRate) });
  }
  const n = logRatios.length;
  const mean = logRatios.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(logRatios.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const half = (2 * sd) / Math.sqrt(n);
  console.log(
    JSON.stringify(
      {
        drafter,
        temperature,
        prompts: n,
        maxTokens,
        speedup: round3(totals.specTokens / totals.specMs / (totals.plainTokens / totals.plainMs)),
        perPromptGeometricMean: round3(Math.exp(mean)),
        interval95: [round3(Math.exp(mean - half)), round3(Math.exp(mean + half))],
        plainStepShare: round3(totals.plainSteps / totals.steps),
        perPrompt,
      },
      null,
      2,
    ),
  );
}
