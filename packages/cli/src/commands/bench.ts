import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { ModelFormatError, OptionError } from '@treespec/core';
import type { TextGenerator, TextResult } from '@treespec/generator';
import { tinyDevPromptsPath } from '@treespec/model-tiny/node';
import {
  CallLog,
  type CallSummary,
  hugePageFacts,
  hugePagesInUse,
  loadTreespec,
  type ModelCalls,
  summarizeCalls,
  targetThreads,
} from '@treespec/node';
import { BUNDLE_DRAFTERS, type BundleDrafter } from '@treespec/planner';
import { type Command, Option } from 'commander';
import { replaceFile } from '../replace-file.js';
import { createBenchProgress } from './bench-progress.js';
import { controllerLine } from './controller-line.js';
import {
  addModelFlags,
  addSamplingFlags,
  draftTreeOptions,
  integer,
  integerList,
  loadOptions,
  type ModelFlags,
  modelDirectory,
  numberList,
  type SamplingFlags,
  samplingOptions,
  treeOptions,
} from './generation-flags.js';
import { type SpeedupInterval, speedupInterval } from './speedup-interval.js';

interface BenchFlags extends ModelFlags, SamplingFlags {
  contexts?: number[];
  prompts?: string;
  limit?: number;
  json?: string;
  temperature: number[];
  drafters?: string;
  budgets?: string;
  rounds: number;
  calls?: boolean;
  progress: boolean;
}

/** One benchmark prompt. */
export interface BenchPrompt {
  id: string;
  prompt: string;
}

/** Measurements of one prompt (or all prompts together) for one drafter at one temperature. */
export interface BenchRow {
  tau: number;
  tokensPerSecond: { baseline: number; speculative: number };
  speedup: number;
  efficiency: number;
  /** Greedy only: speculative output equals plain output token for token. Null when sampling. */
  identical: boolean | null;
  tokens: { baseline: number; speculative: number };
  seconds: { baseline: number; speculative: number };
  targetCalls: { baseline: number; speculative: number };
  meanTreeSize: number;
  acceptanceByDepth: number[];
  /** Share of the speculative decode time spent drafting. */
  draftShare: number;
  /**
   * With `--rounds` above 1 (the overall rows only): the speed-up of each round over the whole
   * prompt set, which shows how far this machine's noise moves one round's ratio.
   */
  roundSpeedups?: number[];
  /**
   * The overall rows, over two or more prompt runs: a 95 % bootstrap interval of `speedup` over the
   * runs (each prompt in each round), which shows how far another set of prompts like these would
   * move the ratio on a machine this noisy ({@link speedupInterval}).
   */
  speedupInterval?: SpeedupInterval;
  /**
   * With `--calls` (the overall rows only): every model call of the plain and of the speculative
   * runs, grouped by {@link summarizeCalls}.
   */
  calls?: { plain: CallSummary; speculative: CallSummary };
  /** The budget controller's choices, summed over the runs (absent without a controller). */
  controller?: {
    /**
     * Steps it decided, of the speculative runs' `ofSteps`: all but each generation's last for a
     * model drafter under a controller; under the hybrid, the steps its model drafter took.
     */
    steps: number;
    ofSteps: number;
    plainShare: number;
    probeShare: number;
    meanDepth: number;
    meanNodes: number;
    predictedTokensPerStep: number;
    actualTokensPerStep: number;
    /** Mean ms per step its cost model predicted for its choices, and what they took. */
    predictedMsPerStep: number;
    actualMsPerStep: number;
    /** Mean drafted steps per run of them, after the last run. */
    meanDraftRun: number;
    /** The cost model after the last run (ms). */
    costs: NonNullable<TextResult['stats']['controller']>['costs'];
  };
}

/** Reads a JSON-lines prompt file of `{"id", "prompt"}` objects. */
export async function readPrompts(path: string): Promise<BenchPrompt[]> {
  const text = await readFile(path, 'utf8');
  const prompts: BenchPrompt[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ModelFormatError(`line ${i + 1} is not JSON`, { file: path });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ModelFormatError(`line ${i + 1} is not an object {"id", "prompt"}`, { file: path });
    }
    const { id, prompt } = value as Partial<BenchPrompt>;
    if (typeof prompt !== 'string' || prompt.length === 0) {
      throw new ModelFormatError(`line ${i + 1} needs a non-empty string "prompt"`, { file: path });
    }
    const named = typeof id === 'string' ? id : `line-${i + 1}`;
    // Rows are per prompt id: two prompts of one id would be summed as one.
    if (prompts.some((p) => p.id === named)) {
      throw new ModelFormatError(`line ${i + 1} repeats the id "${named}" of an earlier prompt`, {
        file: path,
      });
    }
    prompts.push({ id: named, prompt });
  });
  if (prompts.length === 0) throw new ModelFormatError('holds no prompts', { file: path });
  return prompts;
}

function decodeSeconds(r: TextResult): number {
  return (r.stats.totalMs - r.stats.prefillMs) / 1000;
}

/** Combines runs into one row: rates from summed tokens and times, tau from the steps' committed tokens. */
export function summarise(
  pairs: ReadonlyArray<{ plain: TextResult; spec: TextResult }>,
  greedy: boolean,
): BenchRow {
  let baseTokens = 0;
  let specTokens = 0;
  let baseSeconds = 0;
  let specSeconds = 0;
  let baseCalls = 0;
  let specCalls = 0;
  let steps = 0;
  let committed = 0;
  let treeNodes = 0;
  let draftMs = 0;
  let identical = true;
  const depthWeighted: number[] = [];
  const depthSteps: number[] = [];
  const c = {
    steps: 0,
    plain: 0,
    probes: 0,
    drafted: 0,
    depth: 0,
    nodes: 0,
    predicted: 0,
    actual: 0,
    predictedMs: 0,
    actualMs: 0,
  };
  let costs: NonNullable<BenchRow['controller']>['costs'] | null = null;
  let meanDraftRun = 0;
  for (const { plain, spec } of pairs) {
    const choices = spec.stats.controller;
    if (choices) {
      const drafted = choices.steps - choices.plainSteps;
      c.steps += choices.steps;
      c.plain += choices.plainSteps;
      c.probes += choices.probeSteps;
      c.drafted += drafted;
      c.depth += choices.meanDepth * drafted;
      c.nodes += choices.meanNodes * drafted;
      c.predicted += choices.predictedTokensPerStep * drafted;
      c.actual += choices.actualTokensPerStep * drafted;
      c.predictedMs += choices.predictedMsPerStep * choices.steps;
      c.actualMs += choices.actualMsPerStep * choices.steps;
      costs = choices.costs;
      meanDraftRun = choices.meanDraftRun;
    }
    baseTokens += plain.tokens.length;
    specTokens += spec.tokens.length;
    baseSeconds += decodeSeconds(plain);
    specSeconds += decodeSeconds(spec);
    baseCalls += plain.stats.targetCalls;
    specCalls += spec.stats.targetCalls;
    steps += spec.stats.steps;
    committed += spec.stats.tau * spec.stats.steps;
    treeNodes += spec.stats.meanTreeSize * spec.stats.steps;
    draftMs += spec.stats.draftMs;
    identical &&= plain.tokens.join() === spec.tokens.join();
    spec.stats.acceptanceByDepth.forEach((rate, d) => {
      depthWeighted[d] = (depthWeighted[d] ?? 0) + rate * spec.stats.steps;
      depthSteps[d] = (depthSteps[d] ?? 0) + spec.stats.steps;
    });
  }
  const baseline = baseTokens / baseSeconds;
  const speculative = specTokens / specSeconds;
  const tau = steps > 0 ? committed / steps : 0;
  const speedup = speculative / baseline;
  return {
    tau,
    tokensPerSecond: { baseline, speculative },
    speedup,
    efficiency: tau > 0 ? speedup / tau : 0,
    identical: greedy ? identical : null,
    tokens: { baseline: baseTokens, speculative: specTokens },
    seconds: { baseline: baseSeconds, speculative: specSeconds },
    targetCalls: { baseline: baseCalls, speculative: specCalls },
    meanTreeSize: steps > 0 ? treeNodes / steps : 0,
    acceptanceByDepth: depthWeighted.map((w, d) => w / (depthSteps[d] as number)),
    draftShare: specSeconds > 0 ? draftMs / 1000 / specSeconds : 0,
    ...(costs && c.steps > 0
      ? {
          controller: {
            steps: c.steps,
            ofSteps: steps,
            plainShare: c.plain / c.steps,
            probeShare: c.probes / c.steps,
            meanDepth: c.drafted > 0 ? c.depth / c.drafted : 0,
            meanNodes: c.drafted > 0 ? c.nodes / c.drafted : 0,
            predictedTokensPerStep: c.drafted > 0 ? c.predicted / c.drafted : 0,
            actualTokensPerStep: c.drafted > 0 ? c.actual / c.drafted : 0,
            predictedMsPerStep: c.predictedMs / c.steps,
            actualMsPerStep: c.actualMs / c.steps,
            meanDraftRun,
            costs,
          },
        }
      : {}),
  };
}

function noDrafter(found: string): OptionError {
  return new OptionError('--drafter', found, 'a drafter (bench compares speculative with plain decoding)');
}

/** The drafter a generator loaded without --drafter runs: the bundle's and device's default. */
function requireDrafter(generator: TextGenerator): BundleDrafter {
  const name = generator.drafter?.name;
  if (!name) throw noDrafter('none (the bundle has no draft model)');
  return name as BundleDrafter;
}

function parseDrafters(list: string | undefined, fallback: BundleDrafter | undefined): BundleDrafter[] {
  const names = (list ?? fallback ?? '').split(',').map((d) => d.trim());
  for (const [i, name] of names.entries()) {
    // A drafter named twice would be measured twice and counted as twice the prompts.
    if (
      name === 'none' ||
      !(BUNDLE_DRAFTERS as readonly string[]).includes(name) ||
      names.indexOf(name) !== i
    ) {
      throw new OptionError(
        '--drafters',
        list,
        `a comma-separated list of distinct drafters among ${BUNDLE_DRAFTERS.filter((d) => d !== 'none').join(', ')}`,
      );
    }
  }
  return names as BundleDrafter[];
}

const COLUMNS = `${'tau'.padStart(6)} ${'plain/s'.padStart(9)} ${'spec/s'.padStart(9)} ${'speedup'.padStart(8)} ${'eff'.padStart(6)} ${'same'.padStart(5)}`;

function formatRow(label: string, row: BenchRow): string {
  const same = row.identical === null ? '-' : row.identical ? 'yes' : 'NO';
  return [
    label.padEnd(22),
    row.tau.toFixed(2).padStart(6),
    row.tokensPerSecond.baseline.toFixed(1).padStart(9),
    row.tokensPerSecond.speculative.toFixed(1).padStart(9),
    `${row.speedup.toFixed(2)}x`.padStart(8),
    row.efficiency.toFixed(2).padStart(6),
    same.padStart(5),
  ].join(' ');
}

function parseBudgets(list: string): Array<'auto' | 'fixed'> {
  const names = list.split(',').map((b) => b.trim());
  for (const name of names) {
    if (name !== 'auto' && name !== 'fixed')
      throw new OptionError('--budgets', list, 'a list of auto, fixed');
  }
  return names as Array<'auto' | 'fixed'>;
}

/** Each round's speed-up and their range, e.g. `0.95x 0.99x 0.97x (range 0.95–0.99x)`. */
function roundsLine(speedups: readonly number[]): string {
  const each = speedups.map((s) => `${s.toFixed(2)}x`).join(' ');
  return `${each} (range ${Math.min(...speedups).toFixed(2)}–${Math.max(...speedups).toFixed(2)}x)`;
}

/**
 * The speed-up with its interval, e.g. `speed-up 0.94x, 95 % interval 0.89–0.99x over prompts
 * (bootstrap)`, or null without an interval.
 */
function intervalLine(row: BenchRow): string | null {
  const interval = row.speedupInterval;
  if (!interval) return null;
  const percent = Math.round(100 * interval.level);
  return (
    `speed-up ${row.speedup.toFixed(2)}x, ${percent} % interval ${interval.low.toFixed(2)}–${interval.high.toFixed(2)}x ` +
    'over prompts (bootstrap)'
  );
}

/** The calls of several generations, in the order they ran. */
class CallRecords {
  private readonly byKey = new Map<string, ModelCalls>();

  /** Appends the calls `log` holds under `key`. */
  add(key: string, log: CallLog): void {
    let calls = this.byKey.get(key);
    if (!calls) {
      calls = { model: [], rows: [], ms: [] };
      this.byKey.set(key, calls);
    }
    log.appendTo(calls);
  }

  summary(key: string): CallSummary {
    return summarizeCalls(this.byKey.get(key) ?? { model: [], rows: [], ms: [] });
  }
}

/** The most frequent target call sizes, the drafter's calls after a target call and after its own. */
function callsLine(calls: CallSummary): string {
  const targets = Object.entries(calls.targetByRows)
    .sort(([, a], [, b]) => b.calls - a.calls)
    .slice(0, 4)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([rows, g]) => `${rows} row${rows === '1' ? '' : 's'} ${g.medianMs.toFixed(2)} ms (${g.calls})`)
    .join(', ');
  const drafter = (g: CallSummary['drafterAfterTarget']) =>
    `${g.medianMs.toFixed(2)} ms (${g.calls}, ${g.meanRows.toFixed(1)} rows)`;
  if (calls.drafterAfterTarget.calls + calls.drafterAfterDrafter.calls === 0) {
    return `target ${targets} (medians, calls)`;
  }
  return (
    `target ${targets}; drafter after a target call ${drafter(calls.drafterAfterTarget)}, ` +
    `after its own ${drafter(calls.drafterAfterDrafter)} (medians, calls)`
  );
}

interface PromptRuns {
  id: string;
  plain: TextResult;
  spec: Record<string, TextResult>;
}

/**
 * For each prompt: plain decoding once, then each drafter, all on the same generator (one target
 * session, as a user has it); the order rotates from prompt to prompt, and from round to round, so
 * that no drafter always runs first (or last) on a warm machine.
 */
async function runPrompts(
  generator: TextGenerator,
  prompts: readonly BenchPrompt[],
  drafters: readonly BundleDrafter[],
  flags: BenchFlags,
  temperature: number,
  round: number,
  tick: (id: string) => void,
  calls: { log: CallLog; records: CallRecords; key: (drafter: string) => string } | null,
): Promise<PromptRuns[]> {
  const options = samplingOptions(flags, temperature);
  const all = ['none', ...drafters];
  const runs: PromptRuns[] = [];
  for (const [i, { id, prompt }] of prompts.entries()) {
    const results: Record<string, TextResult> = {};
    for (let c = 0; c < all.length; c++) {
      const drafter = all[(c + i + round) % all.length]!;
      calls?.log.reset();
      results[drafter] = await generator.generate(prompt, { ...options, drafter });
      calls?.records.add(calls.key(drafter), calls.log);
    }
    const { none: plain, ...spec } = results;
    runs.push({ id, plain: plain as TextResult, spec });
    tick(id);
  }
  return runs;
}

/** Time per generated token after a prompt of a given length, plain and speculative. */
export interface ContextRow {
  promptTokens: number;
  msPerToken: { baseline: number; speculative: number };
  tau: number;
}

/**
 * The prompts of `--contexts`: for each length, three windows of exactly that many tokens of the
 * prompt set's text. Built before the bench runs, so that a length it cannot measure ends the
 * command before anything is measured.
 * @throws OptionError for a length above the prompt set's tokens, or one that leaves less than
 * `maxTokens` of the target's context window.
 */
function contextWindows(
  generator: TextGenerator,
  prompts: readonly BenchPrompt[],
  lengths: readonly number[],
  maxTokens: number,
): Array<{ length: number; windows: Int32Array[] }> {
  const ids = generator.tokenizer.encode(prompts.map((p) => p.prompt).join('\n\n'));
  const room = generator.target.maxContext - maxTokens;
  if (room < 1) {
    throw new OptionError(
      '--max-tokens',
      maxTokens,
      `less than the target's context window of ${generator.target.maxContext} tokens with --contexts, which puts a prompt before them`,
    );
  }
  const limit = Math.min(ids.length, room);
  return lengths.map((length) => {
    if (length > limit) {
      const bound =
        limit === room
          ? `the target's context window of ${generator.target.maxContext} tokens less --max-tokens ${maxTokens}`
          : 'the tokens of the prompt set';
      throw new OptionError('--contexts', length, `a list of lengths of at most ${limit} (${bound})`);
    }
    const windows = [0, 1, 2].map((w) => {
      const start = Math.floor(((ids.length - length) * w) / 3);
      const window = Int32Array.from(ids.subarray(start, start + length));
      window[0] = ids[0] as number;
      return window;
    });
    return { length, windows };
  });
}

/**
 * Greedy decoding after prompts of exactly `length` tokens ({@link contextWindows}), plain and with
 * the default drafter: how per-token cost grows with context.
 */
async function measureContexts(
  generator: TextGenerator,
  lengths: ReturnType<typeof contextWindows>,
  maxTokens: number,
): Promise<ContextRow[]> {
  const rows: ContextRow[] = [];
  for (const { length, windows } of lengths) {
    const pairs: Array<{ plain: TextResult; spec: TextResult }> = [];
    for (const window of windows) {
      const plain = await generator.generate(window, { maxTokens, plain: true });
      const spec = await generator.generate(window, { maxTokens });
      pairs.push({ plain, spec });
    }
    const row = summarise(pairs, true);
    rows.push({
      promptTokens: length,
      msPerToken: {
        baseline: 1000 / row.tokensPerSecond.baseline,
        speculative: 1000 / row.tokensPerSecond.speculative,
      },
      tau: row.tau,
    });
  }
  return rows;
}

/** `treespec bench`: plain vs speculative decoding of the same target on a prompt set. */
export function registerBench(program: Command): void {
  const command = program
    .command('bench')
    .description(
      'measure tau, tokens/s, speed-up and efficiency of speculative vs plain decoding on a prompt set',
    );
  addModelFlags(command);
  addSamplingFlags(command, 128)
    .option(
      '-p, --prompts <file>',
      'JSON lines of {"id","prompt"} (default: the tiny model’s development prompts)',
    )
    .option('-l, --limit <n>', 'use only the first n prompts', integer(1))
    .addOption(
      new Option('-t, --temperature <list>', 'comma-separated temperatures to run (0: greedy)')
        .argParser(numberList(0))
        .default([0, 1], '0,1'),
    )
    .option('--drafters <list>', 'comma-separated drafters to compare (default: --drafter)')
    .option(
      '--budgets <list>',
      'compare budget modes, e.g. auto,fixed (default: --budget), each loaded in turn and measured against plain decoding on itself; rows are drafter/mode',
    )
    .option(
      '--contexts <list>',
      'also measure time per token after prompts of these token lengths (e.g. 100,1000)',
      integerList(1),
    )
    .option(
      '--rounds <n>',
      'run the prompt set n times per temperature: rows sum every round, and the speed-up of each round shows how far noise moves one',
      integer(1),
      1,
    )
    .option(
      '--calls',
      'log every model call and report them grouped: the target by rows, the drafter right after a target call and after its own',
    )
    .option('--json <file>', 'write the report as JSON')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (flags: BenchFlags, cmd: Command) => {
      const out = cmd.parent!.configureOutput().writeOut!;
      const note = cmd.parent!.configureOutput().writeErr!;
      const temperatures = flags.temperature;
      if (flags.drafter === 'none' && !flags.drafters) throw noDrafter('none');
      const loadAtStart = loadavg()[0];
      // Without --drafter or --drafters, the drafter the loader picks for this bundle and device.
      let drafters =
        flags.drafters !== undefined || flags.drafter ? parseDrafters(flags.drafters, flags.drafter) : null;
      const promptFile = flags.prompts ?? tinyDevPromptsPath();
      const allPrompts = await readPrompts(promptFile);
      const prompts = allPrompts.slice(0, flags.limit);
      const directory = modelDirectory(flags);
      const budgets = parseBudgets(flags.budgets ?? flags.budget);
      const labelOf = (drafter: BundleDrafter, budget: string) =>
        budgets.length > 1 ? `${drafter}/${budget}` : drafter;
      // Each budget mode's generator is loaded alone and compared with plain decoding on itself, one
      // target session at a time as a user has it: with a second one loaded, the first one's plain
      // decoding measured 0.95–1.01 of its speed alone (docs/benchmarks.md).
      const pairsByTemperature = temperatures.map(
        () => new Map<string, Array<{ id: string; round: number; plain: TextResult; spec: TextResult }>>(),
      );
      let contexts: ContextRow[] | null = null;
      const log = flags.calls ? new CallLog() : null;
      const records = new CallRecords();
      /** Where a generation's calls go: per temperature, budget mode and drafter (`none`: plain). */
      const callKey = (t: number, budget: string, drafter: string) => `${t}|${budget}|${drafter}`;
      for (const [b, budget] of budgets.entries()) {
        const generator = await loadTreespec(directory, {
          ...(await loadOptions(
            { ...flags, budget, ...(drafters ? { drafter: drafters[0]! } : {}) },
            drafters ?? [],
            // Each budget mode's load warns as the first one did.
            b === 0 ? note : () => {},
          )),
          ...(log ? { callLog: log } : {}),
        });
        try {
          drafters ??= [requireDrafter(generator)];
          const windows =
            b === 0 && flags.contexts
              ? contextWindows(generator, allPrompts, flags.contexts, flags.maxTokens)
              : null;
          const warm = { ...samplingOptions(flags, 0), maxTokens: 8 };
          for (const drafter of ['none', ...drafters])
            await generator.generate(prompts[0]!.prompt, { ...warm, drafter });
          const bar = flags.progress
            ? createBenchProgress(process.stderr, prompts.length * flags.rounds, temperatures)
            : null;
          try {
            for (const [t, temperature] of temperatures.entries()) {
              for (let round = 0; round < flags.rounds; round++) {
                const results = await runPrompts(
                  generator,
                  prompts,
                  drafters,
                  flags,
                  temperature,
                  round,
                  (id) => bar?.promptDone(temperature, id),
                  log ? { log, records, key: (drafter) => callKey(t, budget, drafter) } : null,
                );
                for (const drafter of drafters) {
                  const pairs = pairsByTemperature[t]!;
                  const label = labelOf(drafter, budget);
                  if (!pairs.has(label)) pairs.set(label, []);
                  pairs.get(label)!.push(
                    ...results.map((r) => ({
                      id: r.id,
                      round,
                      plain: r.plain,
                      spec: r.spec[drafter] as TextResult,
                    })),
                  );
                }
              }
            }
          } finally {
            bar?.stop();
          }
          if (windows) contexts = await measureContexts(generator, windows, flags.maxTokens);
        } finally {
          await generator.dispose();
        }
      }
      const measured = drafters ?? [];
      const rows = budgets.flatMap((budget) =>
        measured.map((drafter) => ({ name: labelOf(drafter, budget), budget, drafter })),
      );
      const labels = rows.map((row) => row.name);
      const runs = temperatures.map((temperature, t) => {
        const greedy = temperature === 0;
        const drafterRows = Object.fromEntries(
          rows.map(({ name, budget, drafter }) => {
            const pairs = pairsByTemperature[t]!.get(name)!;
            const of = <K>(key: (p: (typeof pairs)[number]) => K, k: K) => pairs.filter((p) => key(p) === k);
            const overall = summarise(pairs, greedy);
            if (log) {
              overall.calls = {
                plain: records.summary(callKey(t, budget, 'none')),
                speculative: records.summary(callKey(t, budget, drafter)),
              };
            }
            const interval = speedupInterval(
              pairs.map(({ plain, spec }) => ({
                baseTokens: plain.tokens.length,
                baseSeconds: decodeSeconds(plain),
                specTokens: spec.tokens.length,
                specSeconds: decodeSeconds(spec),
              })),
            );
            if (interval) overall.speedupInterval = interval;
            if (flags.rounds > 1) {
              overall.roundSpeedups = Array.from(
                { length: flags.rounds },
                (_, r) =>
                  summarise(
                    of((p) => p.round, r),
                    greedy,
                  ).speedup,
              );
            }
            return [
              name,
              {
                overall,
                prompts: prompts.map(({ id }) => ({
                  id,
                  ...summarise(
                    of((p) => p.id, id),
                    greedy,
                  ),
                })),
              },
            ];
          }),
        );
        return { temperature, drafters: drafterRows };
      });
      for (const run of runs) {
        const title = `temperature ${run.temperature}${run.temperature === 0 ? ' (greedy)' : ''}`;
        out(
          `\n${title}: ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}, ${flags.maxTokens} new tokens each\n`,
        );
        if (labels.length === 1) {
          const only = run.drafters[labels[0]!]!;
          out(`${'prompt'.padEnd(22)} ${COLUMNS}\n`);
          for (const p of only.prompts) out(`${formatRow(p.id, p)}\n`);
          out(`${formatRow('OVERALL', only.overall)}\n`);
        } else {
          out(`${'drafter'.padEnd(22)} ${COLUMNS}\n`);
          for (const name of labels) out(`${formatRow(name, run.drafters[name]!.overall)}\n`);
        }
        for (const name of labels) {
          const { overall } = run.drafters[name]!;
          const interval = intervalLine(overall);
          if (interval) out(`  ${name}: ${interval}\n`);
          const { roundSpeedups, calls } = overall;
          if (roundSpeedups) out(`  ${name}: speed-up by round ${roundsLine(roundSpeedups)}\n`);
          const line = controllerLine(overall);
          if (line) out(`  ${name}: ${line}\n`);
          if (calls) {
            out(`  ${name}: calls, plain: ${callsLine(calls.plain)}\n`);
            out(`  ${name}: calls, speculative: ${callsLine(calls.speculative)}\n`);
          }
        }
      }
      if (contexts) {
        out(`\ntime per token after a prompt of n tokens (greedy, ${measured[0]}):\n`);
        out(
          `${'prompt tokens'.padEnd(14)} ${'plain ms'.padStart(9)} ${'spec ms'.padStart(9)} ${'tau'.padStart(6)}\n`,
        );
        for (const c of contexts) {
          out(
            `${String(c.promptTokens).padEnd(14)} ${c.msPerToken.baseline.toFixed(2).padStart(9)} ${c.msPerToken.speculative.toFixed(2).padStart(9)} ${c.tau.toFixed(2).padStart(6)}\n`,
          );
        }
      }
      if (flags.json) {
        const first = runs[0]!.drafters[labels[0]!]!;
        const report = {
          model: directory,
          machine: {
            cpus: cpus().length,
            node: process.version,
            hugePages: hugePagesInUse(hugePageFacts()),
            loadAverage: { start: loadAtStart, end: loadavg()[0] },
          },
          promptFile,
          drafters: labels,
          budgets,
          tree: treeOptions(flags),
          // Everything else the run was given, so that the report says how to run it again.
          settings: {
            models: flags.models ?? null,
            draftTree: draftTreeOptions(flags),
            adaptive: flags.adaptive,
            draftSampling: flags.draftSampling ?? null,
            tuningCache: flags.tuningCache,
            hybridBase: flags.hybridBase ?? null,
            hybridPolicy: flags.hybridPolicy ?? null,
            headPromptRows: flags.headPromptRows ?? null,
            corpus: flags.corpus ?? null,
            sampling: {
              topK: flags.topK ?? null,
              topP: flags.topP ?? null,
              minP: flags.minP ?? null,
              repetitionPenalty: flags.repetitionPenalty ?? null,
              seed: flags.seed ?? null,
            },
            temperatures: flags.temperature,
            limit: flags.limit ?? null,
            rounds: flags.rounds,
            spinning: flags.spinning,
            maxContext: flags.maxContext ?? null,
          },
          provider: flags.provider,
          threads: targetThreads(flags.threads) ?? null,
          maxTokens: flags.maxTokens,
          // `overall` and `prompts` are the first temperature's first row's; `runs` holds them all.
          temperature: runs[0]!.temperature,
          overall: first.overall,
          prompts: first.prompts,
          runs,
          ...(contexts ? { contexts } : {}),
        };
        await replaceFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
        note(`report written to ${flags.json}\n`);
      }
    });
}
