import { readFile, writeFile } from 'node:fs/promises';
import { ModelFormatError, OptionError } from '@treespec/core';
import type { TextGenerator, TextResult } from '@treespec/generator';
import { tinyDevPromptsPath } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import {
  addModelFlags,
  addSamplingFlags,
  integer,
  loadOptions,
  type ModelFlags,
  modelDirectory,
  type SamplingFlags,
  samplingOptions,
} from './generation-flags.js';

interface BenchFlags extends ModelFlags, SamplingFlags {
  prompts?: string;
  limit?: number;
  json?: string;
  temperature: string;
  progress: boolean;
}

/** One benchmark prompt. */
export interface BenchPrompt {
  id: string;
  prompt: string;
}

/** Measurements of one prompt (or all prompts together) at one temperature. */
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
  draftShare: number;
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
    const { id, prompt } = value as Partial<BenchPrompt>;
    if (typeof prompt !== 'string' || prompt.length === 0) {
      throw new ModelFormatError(`line ${i + 1} needs a non-empty string "prompt"`, { file: path });
    }
    prompts.push({ id: typeof id === 'string' ? id : `line-${i + 1}`, prompt });
  });
  if (prompts.length === 0) throw new ModelFormatError('holds no prompts', { file: path });
  return prompts;
}

function decodeSeconds(r: TextResult): number {
  return (r.stats.totalMs - r.stats.prefillMs) / 1000;
}

/** Combines runs into one row: rates from summed tokens and times, tau from summed steps. */
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
  let treeNodes = 0;
  let draftMs = 0;
  let identical = true;
  const depthWeighted: number[] = [];
  const depthSteps: number[] = [];
  for (const { plain, spec } of pairs) {
    baseTokens += plain.tokens.length;
    specTokens += spec.tokens.length;
    baseSeconds += decodeSeconds(plain);
    specSeconds += decodeSeconds(spec);
    baseCalls += plain.stats.targetCalls;
    specCalls += spec.stats.targetCalls;
    steps += spec.stats.steps;
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
  const tau = steps > 0 ? specTokens / steps : 0;
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
  };
}

function parseTemperatures(list: string): number[] {
  const values = list.split(',').map((t) => Number(t.trim()));
  for (const t of values)
    if (!Number.isFinite(t) || t < 0)
      throw new OptionError('--temperature', list, 'a comma-separated list of numbers >= 0');
  return values;
}

function formatRow(id: string, row: BenchRow): string {
  const same = row.identical === null ? '-' : row.identical ? 'yes' : 'NO';
  return [
    id.padEnd(22),
    row.tau.toFixed(2).padStart(6),
    row.tokensPerSecond.baseline.toFixed(1).padStart(9),
    row.tokensPerSecond.speculative.toFixed(1).padStart(9),
    `${row.speedup.toFixed(2)}x`.padStart(8),
    row.efficiency.toFixed(2).padStart(6),
    same.padStart(5),
  ].join(' ');
}

const HEADER = `${'prompt'.padEnd(22)} ${'tau'.padStart(6)} ${'plain/s'.padStart(9)} ${'spec/s'.padStart(9)} ${'speedup'.padStart(8)} ${'eff'.padStart(6)} ${'same'.padStart(5)}`;

/** Runs plain and speculative decoding of each prompt, alternating which goes first. */
async function runPrompts(
  generator: TextGenerator,
  prompts: readonly BenchPrompt[],
  flags: BenchFlags,
  temperature: number,
  tick: () => void,
): Promise<Array<{ id: string; plain: TextResult; spec: TextResult }>> {
  const options = samplingOptions(flags, temperature);
  const runs: Array<{ id: string; plain: TextResult; spec: TextResult }> = [];
  for (const [i, { id, prompt }] of prompts.entries()) {
    let plain: TextResult;
    let spec: TextResult;
    if (i % 2 === 0) {
      plain = await generator.generate(prompt, { ...options, plain: true });
      spec = await generator.generate(prompt, options);
    } else {
      spec = await generator.generate(prompt, options);
      plain = await generator.generate(prompt, { ...options, plain: true });
    }
    runs.push({ id, plain, spec });
    tick();
  }
  return runs;
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
    .option('-t, --temperature <list>', 'comma-separated temperatures to run (0: greedy)', '0,1')
    .option('--json <file>', 'write the report as JSON')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (flags: BenchFlags, cmd: Command) => {
      const io = cmd.parent!.configureOutput();
      const out = io.writeOut!;
      const temperatures = parseTemperatures(flags.temperature);
      const promptFile = flags.prompts ?? tinyDevPromptsPath();
      const prompts = (await readPrompts(promptFile)).slice(0, flags.limit);
      const directory = modelDirectory(flags);
      const generator = await loadTreespec(directory, loadOptions(flags));
      try {
        if (!generator.drafter)
          throw new OptionError(
            '--drafter',
            flags.drafter,
            'a drafter (bench compares against plain decoding)',
          );
        const warm = samplingOptions(flags, 0);
        await generator.generate(prompts[0]!.prompt, { ...warm, maxTokens: 8 });
        await generator.generate(prompts[0]!.prompt, { ...warm, maxTokens: 8, plain: true });
        const bar = flags.progress
          ? new SingleBar({
              format: 'bench [{bar}] {value}/{total} prompts | T={temperature} | {id}',
              stream: process.stderr,
              hideCursor: true,
            })
          : null;
        bar?.start(prompts.length * temperatures.length, 0, { temperature: temperatures[0], id: '' });
        const results = [];
        for (const temperature of temperatures) {
          const runs = await runPrompts(generator, prompts, flags, temperature, () =>
            bar?.increment(1, { temperature }),
          );
          const greedy = temperature === 0;
          results.push({
            temperature,
            overall: summarise(runs, greedy),
            prompts: runs.map((r) => ({ id: r.id, ...summarise([r], greedy) })),
          });
        }
        bar?.stop();
        for (const r of results) {
          out(
            `\ntemperature ${r.temperature}${r.temperature === 0 ? ' (greedy)' : ''}: ${prompts.length} prompts, ${flags.maxTokens} new tokens each\n`,
          );
          out(`${HEADER}\n`);
          for (const p of r.prompts) out(`${formatRow(p.id, p)}\n`);
          out(`${formatRow('OVERALL', r.overall)}\n`);
        }
        if (flags.json) {
          const first = results[0]!;
          const report = {
            model: directory,
            drafter: flags.drafter,
            tree: generator.drafter ? { ...loadOptions(flags).tree } : null,
            provider: flags.provider,
            threads: flags.threads ?? null,
            maxTokens: flags.maxTokens,
            prompts: first.prompts,
            overall: first.overall,
            temperature: first.temperature,
            runs: results,
          };
          await writeFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
          out(`report written to ${flags.json}\n`);
        }
      } finally {
        await generator.dispose();
      }
    });
}
