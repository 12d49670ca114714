/**
 * Where a speculative generation's time goes against plain decoding, step by step, in one process:
 * each development prompt is generated plainly and speculatively through one loaded model (same
 * temperature, same seed, which of the two runs first alternating from prompt to prompt and from
 * round to round), and every step is timed from one `onStep` to the next. A speculative
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
 * from a heavier tail). `aroundDrafting` splits the speculative plain steps by their distance from
 * the nearest drafted step of their generation: the k-th after a drafted step (`after1` is the
 * target's first call after the drafter's), the k-th before one (where a run of drafted steps
 * starts), and those at least {@link NEAR} steps from any (`far`), each against the plain loop's
 * median step: a cost that drafting leaves behind shows after it, and a slow spell of the machine
 * that drafting started in shows before it too. `lossMs` splits the speculative run's extra time
 * into what its plain steps and its drafted steps lost (each drafted step against its committed
 * tokens at the plain loop's mean step); `speculativeRun` is the whole speculative run's time over
 * plain decoding's for its tokens.
 * Each kind of step also reports `modelMs`, its mean time inside model calls (the call log's), so
 * that the rest of a step, JavaScript and the event loop, shows as `meanMs − modelMs`
 * (`outsideModelMedianMs` for drafted steps); drafted steps add their model calls per step.
 * `--budget fixed` drafts the whole tree every step.
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

/** Plain steps this close to a drafted step are reported by their distance from it (`aroundDrafting`). */
const NEAR = 5;

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The value of ascending `sorted` below which a share `q` of them lie. */
function quantileOf(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * sorted.length)] ?? Number.NaN;
}

/** Step times of one kind, in ms, and the tokens those steps committed. */
class StepTimes {
  readonly ms: number[] = [];
  /** Of each step in `ms`, the time inside its model calls (the call log's); the rest is JavaScript and the event loop. */
  readonly modelMsOf: number[] = [];
  tokens = 0;
  /** Model calls inside the steps. */
  calls = 0;
  add(ms: number, tokens: number, modelMs: number, calls: number): void {
    this.ms.push(ms);
    this.modelMsOf.push(modelMs);
    this.tokens += tokens;
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
    return this.modelMsOf.reduce((a, b) => a + b, 0) / this.ms.length;
  }
  get median(): number {
    return quantileOf(sorted(this.ms), 0.5);
  }
  /** Median ms per step outside model calls. */
  get outsideModelMedian(): number {
    return quantileOf(sorted(this.ms.map((ms, i) => ms - (this.modelMsOf[i] as number))), 0.5);
  }
  /** Step times at {@link QUANTILES}, to tell a shift of every step from a heavier tail. */
  get quantilesMs(): number[] {
    const ascending = sorted(this.ms);
    return QUANTILES.map((q) => round3(quantileOf(ascending, q)));
  }
  /** Its count, mean, median and model time, the mean and median against a plain step's. */
  against(plainMean: number, plainMedian: number) {
    return {
      steps: this.ms.length,
      meanMs: round3(this.mean),
      medianMs: round3(this.median),
      modelMs: round3(this.modelMean),
      meanOverPlainMs: round3(this.mean - plainMean),
      medianOverPlainMs: round3(this.median - plainMedian),
    };
  }
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * Where each step of a speculative generation goes: drafted steps to `draftedSteps`; plain steps to
 * `plainSteps`, and by their distance from the nearest drafted step of the generation to
 * `afterDrafted[k - 1]` (the k-th after one), `beforeDrafted[k - 1]` (the k-th before one) or, at
 * more than {@link NEAR} steps from both, `farFromDrafting`. A plain step between two drafted steps
 * counts on both sides.
 */
function placeSpeculativeSteps(drafted: readonly boolean[]): StepTimes[][] {
  const into: StepTimes[][] = drafted.map((d) => [d ? draftedSteps : plainSteps]);
  const sinceDrafted = new Array<number>(drafted.length);
  let since = Number.POSITIVE_INFINITY;
  for (let s = 0; s < drafted.length; s++) {
    since = drafted[s] ? 0 : since + 1;
    sinceDrafted[s] = since;
    if (since > 0 && since <= NEAR) into[s]!.push(afterDrafted[since - 1]!);
  }
  let until = Number.POSITIVE_INFINITY;
  for (let s = drafted.length - 1; s >= 0; s--) {
    until = drafted[s] ? 0 : until + 1;
    if (until > 0 && until <= NEAR) into[s]!.push(beforeDrafted[until - 1]!);
    if (until > NEAR && (sinceDrafted[s] as number) > NEAR) into[s]!.push(farFromDrafting);
  }
  return into;
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
const draftedSteps = new StepTimes();
/** The speculative plain steps by their distance from the nearest drafted step ({@link placeSpeculativeSteps}). */
const afterDrafted = Array.from({ length: NEAR }, () => new StepTimes());
const beforeDrafted = Array.from({ length: NEAR }, () => new StepTimes());
const farFromDrafting = new StepTimes();
const controller = generator.drafters[drafter];
/** Whether the drafter ran this step: a tree larger than its root, or the controller chose one. */
const drafterRan = (treeSize: number): boolean =>
  treeSize > 1 || (controller instanceof BudgetController && controller.lastChoice.depth > 0);
const totals = { plainMs: 0, plainTokens: 0, speculativeMs: 0, speculativeTokens: 0 };
for (let round = 0; round < rounds; round++) {
  for (const [i, prompt] of prompts.entries()) {
    for (const plain of (i + round) % 2 === 0 ? [true, false] : [false, true]) {
      let last = Number.NaN;
      let lastCalls = 0;
      /** This generation's timed steps: whether the drafter ran, and the call log's calls inside it. */
      const steps: { drafted: boolean; ms: number; tokens: number; from: number; to: number }[] = [];
      log.reset();
      const started = performance.now();
      const result = await generator.generate(prompt, {
        maxTokens,
        temperature,
        seed: i,
        drafter: plain ? 'none' : drafter,
        onStep: (event) => {
          const now = performance.now();
          if (!Number.isNaN(last)) {
            const drafted = !plain && drafterRan(event.tree.size);
            steps.push({ drafted, ms: now - last, tokens: event.pathLength, from: lastCalls, to: log.size });
          }
          last = now;
          lastCalls = log.size;
        },
      });
      const ms = performance.now() - started;
      const loopCalls = calls[plain ? 'plain' : 'speculative'];
      const offset = loopCalls.ms.length;
      log.appendTo(loopCalls);
      const places = plain
        ? steps.map(() => [plainLoop])
        : placeSpeculativeSteps(steps.map((s) => s.drafted));
      for (const [s, step] of steps.entries()) {
        let modelMs = 0;
        for (let c = offset + step.from; c < offset + step.to; c++) modelMs += loopCalls.ms[c] as number;
        for (const times of places[s]!) times.add(step.ms, step.tokens, modelMs, step.to - step.from);
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
      aroundDrafting: {
        ...Object.fromEntries(
          afterDrafted.map((t, k) => [`after${k + 1}`, t.against(plainStep, plainLoop.median)]),
        ),
        ...Object.fromEntries(
          beforeDrafted.map((t, k) => [`before${k + 1}`, t.against(plainStep, plainLoop.median)]),
        ),
        far: farFromDrafting.against(plainStep, plainLoop.median),
      },
      draftedStep: {
        steps: draftedSteps.ms.length,
        meanMs: round3(draftedSteps.mean),
        modelMs: round3(draftedSteps.modelMean),
        outsideModelMedianMs: round3(draftedSteps.outsideModelMedian),
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
