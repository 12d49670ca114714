/**
 * Where a speculative generation's time goes against plain decoding, step by step, in one process:
 * each development prompt is generated plainly and then speculatively through one loaded model (same
 * temperature, same seed), and every step is timed from one `onStep` to the next. A speculative
 * generation loses to plain decoding in two places, which this separates:
 *
 * - its plain steps (the budget controller chose no tree) can cost more than the plain loop's
 *   steps: the controller's choice, the drafter's bookkeeping, the features fetched for the head;
 * - its drafted steps can commit fewer tokens than plain steps would have in the same time. A step
 *   whose drafter ran is a drafted one even where its tree kept only the root (a tree sized by
 *   value where no node paid: a head call, then a one-row verification).
 *
 *   pnpm -s --filter @treespec/node bench:steps [--drafter eagle2 --temperature 1 --rounds 2 --threads N --budget auto]
 *     [--draft-sampling | --top-k-trees] [--tree '{"topK":1,"depth":0,"totalTokens":2}']
 *
 * Trees are the loader's default kind for the temperature (sampled from temperature 1, top-k
 * below) unless `--draft-sampling` (sampled at every temperature) or `--top-k-trees` (never
 * sampled) says otherwise.
 *
 * Prints one JSON report. `plainStepOverheadMs` is the mean speculative plain step minus the mean
 * plain-loop step (`quantilesMs`, the 10th to 99th percentiles of both, tell a shift of every step
 * from a heavier tail), and `leavingStep` the speculative plain steps right after a drafted one (the
 * target's first call after the drafter's); `lossMs` splits the speculative run's extra time into
 * what its plain steps and its drafted steps lost (each drafted step against its committed tokens
 * at the plain loop's mean step); `speculativeRun` is the whole speculative run's time over plain
 * decoding's for its tokens.
 * Each kind of step also reports `modelMs`, its mean time inside model calls (the call log's), so
 * that the rest of a step, JavaScript and the event loop, shows as `meanMs − modelMs`; drafted
 * steps add their model calls per step. `--budget fixed` drafts the whole tree every step.
 * Both loops' first step of each generation (the prefill's) is left out of the step times.
 * `calls` groups every model call of each loop (`summarizeCalls`): the target's by rows, and the
 * drafter's right after a target call against right after one of its own, where its weights are
 * still in the caches.
 */
import { parseArgs } from 'node:util';
import { BudgetController, type BudgetMode } from '@treespec/drafters';
import { type BundleDrafter, CallLog, loadTreespec, type ModelCalls, summarizeCalls } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { generationOptions, scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    ...generationOptions({ temperature: '1' }),
    threads: { type: 'string' },
    budget: { type: 'string', default: 'auto' },
    'draft-sampling': { type: 'boolean' },
    'top-k-trees': { type: 'boolean' },
    tree: { type: 'string' },
  },
});
/** Checked by the loader, which names the drafters this bundle has when it has not this one. */
const drafter = values.drafter as BundleDrafter;
/** Checked by the loader. */
const budget = values.budget as BudgetMode;
const temperature = Number(values.temperature);
const maxTokens = Number(values['max-tokens']);
const rounds = Number(values.rounds);
const prompts = devPrompts(Number(values.prompts)).map((p) => p.prompt);

/** The shares of steps at which `quantilesMs` reports a step time. */
const QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99];

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The value of ascending `sorted` below which a share `q` of them lie. */
function quantileOf(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * sorted.length)] ?? Number.NaN;
}

/** Step times of one kind, in ms, and the tokens those steps committed. */
class StepTimes {
  readonly ms: number[] = [];
  tokens = 0;
  /** Of `ms`, the time inside the steps' model calls (the call log's); the rest is JavaScript and the event loop. */
  modelMs = 0;
  /** Model calls inside the steps. */
  calls = 0;
  add(ms: number, tokens: number, modelMs: number, calls: number): void {
    this.ms.push(ms);
    this.tokens += tokens;
    this.modelMs += modelMs;
    this.calls += calls;
  }
  get total(): number {
    return this.ms.reduce((a, b) => a + b, 0);
  }
  get mean(): number {
    return this.total / this.ms.length;
  }
  /** Mean ms per step inside model calls. */
  get modelMean(): number {
    return this.modelMs / this.ms.length;
  }
  get median(): number {
    return quantileOf(this.sorted(), 0.5);
  }
  /** Step times at {@link QUANTILES}, to tell a shift of every step from a heavier tail. */
  get quantilesMs(): number[] {
    const sorted = this.sorted();
    return QUANTILES.map((q) => round3(quantileOf(sorted, q)));
  }
  private sorted(): number[] {
    return [...this.ms].sort((a, b) => a - b);
  }
}

const log = new CallLog();
const generator = await loadTreespec(TINY, {
  drafter,
  drafters: ['none'],
  tuningCache: false,
  callLog: log,
  budget,
  ...(values['draft-sampling']
    ? { draftSampling: true }
    : values['top-k-trees']
      ? { draftSampling: false }
      : {}),
  ...(values.tree === undefined ? {} : { tree: JSON.parse(values.tree) }),
  ...(values.threads === undefined ? {} : { intraOpNumThreads: Number(values.threads) }),
});
/** Every model call of the plain and of the speculative generations, in order. */
const calls: Record<'plain' | 'speculative', ModelCalls> = {
  plain: { model: [], rows: [], ms: [] },
  speculative: { model: [], rows: [], ms: [] },
};
const plainLoop = new StepTimes();
const plainSteps = new StepTimes();
/** The speculative plain steps right after a drafted step: the target's first call after the drafter's. */
const leavingSteps = new StepTimes();
const draftedSteps = new StepTimes();
const controller = generator.drafters[drafter];
/** Whether the drafter ran this step: a tree larger than its root, or the controller chose one. */
const drafterRan = (treeSize: number): boolean =>
  treeSize > 1 || (controller instanceof BudgetController && controller.lastChoice.depth > 0);
const totals = { plainMs: 0, plainTokens: 0, speculativeMs: 0, speculativeTokens: 0 };
for (let round = 0; round < rounds; round++) {
  for (const [i, prompt] of prompts.entries()) {
    for (const plain of [true, false]) {
      let last = Number.NaN;
      let lastCalls = 0;
      let lastDrafted = false;
      /** This generation's timed steps: where each goes, and the call log's calls inside it. */
      const steps: { into: StepTimes[]; ms: number; tokens: number; from: number; to: number }[] = [];
      log.reset();
      const started = performance.now();
      const result = await generator.generate(prompt, {
        maxTokens,
        temperature,
        seed: i,
        drafter: plain ? 'none' : drafter,
        onStep: (event) => {
          const now = performance.now();
          const drafted = !plain && drafterRan(event.tree.size);
          if (!Number.isNaN(last)) {
            const into = [plain ? plainLoop : drafted ? draftedSteps : plainSteps];
            if (!plain && !drafted && lastDrafted) into.push(leavingSteps);
            steps.push({ into, ms: now - last, tokens: event.pathLength, from: lastCalls, to: log.size });
          }
          last = now;
          lastCalls = log.size;
          lastDrafted = drafted;
        },
      });
      const ms = performance.now() - started;
      const loopCalls = calls[plain ? 'plain' : 'speculative'];
      const offset = loopCalls.ms.length;
      log.appendTo(loopCalls);
      for (const step of steps) {
        let modelMs = 0;
        for (let c = offset + step.from; c < offset + step.to; c++) modelMs += loopCalls.ms[c] as number;
        for (const times of step.into) times.add(step.ms, step.tokens, modelMs, step.to - step.from);
      }
      if (plain) {
        totals.plainMs += ms;
        totals.plainTokens += result.tokens.length;
      } else {
        totals.speculativeMs += ms;
        totals.speculativeTokens += result.tokens.length;
      }
    }
  }
}
await generator.dispose();

const plainStep = plainLoop.mean;
console.log(
  JSON.stringify(
    {
      drafter,
      temperature,
      prompts: prompts.length,
      maxTokens,
      rounds,
      speedup: round3(
        totals.speculativeTokens / totals.speculativeMs / (totals.plainTokens / totals.plainMs),
      ),
      msPerToken: {
        plain: round3(totals.plainMs / totals.plainTokens),
        speculative: round3(totals.speculativeMs / totals.speculativeTokens),
      },
      plainLoopStep: {
        steps: plainLoop.ms.length,
        meanMs: round3(plainStep),
        medianMs: round3(plainLoop.median),
        quantilesMs: plainLoop.quantilesMs,
        modelMs: round3(plainLoop.modelMean),
      },
      speculativePlainStep: {
        steps: plainSteps.ms.length,
        meanMs: round3(plainSteps.mean),
        medianMs: round3(plainSteps.median),
        quantilesMs: plainSteps.quantilesMs,
        modelMs: round3(plainSteps.modelMean),
      },
      plainStepOverheadMs: round3(plainSteps.mean - plainStep),
      leavingStep: {
        steps: leavingSteps.ms.length,
        meanMs: round3(leavingSteps.mean),
        modelMs: round3(leavingSteps.modelMean),
      },
      draftedStep: {
        steps: draftedSteps.ms.length,
        meanMs: round3(draftedSteps.mean),
        modelMs: round3(draftedSteps.modelMean),
        callsPerStep: round3(draftedSteps.calls / draftedSteps.ms.length),
        tokensPerStep: round3(draftedSteps.tokens / draftedSteps.ms.length),
      },
      lossMs: {
        plainSteps: Math.round(plainSteps.total - plainSteps.ms.length * plainStep),
        draftedSteps: Math.round(draftedSteps.total - draftedSteps.tokens * plainStep),
        // Against plain decoding's ms per token, prefills and first steps included.
        speculativeRun: Math.round(
          totals.speculativeMs - totals.speculativeTokens * (totals.plainMs / totals.plainTokens),
        ),
      },
      calls: { plain: summarizeCalls(calls.plain), speculative: summarizeCalls(calls.speculative) },
    },
    null,
    2,
  ),
);
