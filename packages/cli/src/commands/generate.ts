import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { type ControllerStats, type GenerationStats, OptionError } from '@treespec/core';
import type { Prompt, TextGenerateOptions, TextGenerator, TextResult } from '@treespec/generator';
import { loadTreespec } from '@treespec/node';
import { ChatTemplateError } from '@treespec/tokenizers';
import type { Command } from 'commander';
import { stdoutClosed } from '../closed-pipe.js';
import {
  addModelFlags,
  addSamplingFlags,
  loadOptions,
  type ModelFlags,
  modelDirectory,
  number,
  type SamplingFlags,
  samplingOptions,
} from './generation-flags.js';

interface GenerateFlags extends ModelFlags, SamplingFlags {
  temperature: number;
  stop?: string[];
  chat?: boolean;
  chatTemplate?: string;
  json?: boolean;
  compare?: boolean;
}

/** The statistics `--json` prints. */
export function statsJson(stats: GenerationStats) {
  return {
    targetCalls: stats.targetCalls,
    steps: stats.steps,
    tau: stats.tau,
    tokensPerSecond: stats.tokensPerSecond,
    promptTokens: stats.promptTokens,
    generatedTokens: stats.generatedTokens,
    acceptedLengths: stats.acceptedLengths,
    acceptanceByDepth: stats.acceptanceByDepth,
    meanTreeSize: stats.meanTreeSize,
    prefillMs: stats.prefillMs,
    draftMs: stats.draftMs,
    verifyMs: stats.verifyMs,
    bookkeepingMs: stats.bookkeepingMs,
    totalMs: stats.totalMs,
    ...(stats.controller ? { controller: stats.controller } : {}),
  };
}

/**
 * What the budget controller chose in a generation: how often it decoded plainly, and what its
 * trees committed. Under the hybrid it decides only the steps its model drafter takes.
 */
function controllerSummary(c: ControllerStats, steps: number): string {
  const drafted = c.steps - c.plainSteps;
  const trees =
    drafted > 0
      ? `; ${drafted} drafted (${c.probeSteps} probes), depth ${c.meanDepth.toFixed(1)} and ${c.meanNodes.toFixed(1)} nodes on average, ` +
        `${c.actualTokensPerStep.toFixed(2)} tokens a drafted step (predicted ${c.predictedTokensPerStep.toFixed(2)})`
      : '';
  // A generation's last step drafts nothing when only the bonus token is left to commit.
  const scope = c.steps >= steps - 1 ? '' : ` (the ${c.steps} of ${steps} steps its model drafter took)`;
  return `budget controller${scope}: ${c.plainSteps} of ${c.steps} steps plain${trees}`;
}

function summary(label: string, r: TextResult): string {
  const s = r.stats;
  return (
    // The rate is of the decoding alone, so the time beside it is too; the prompt's read apart.
    `${label}: ${s.generatedTokens} tokens in ${((s.totalMs - s.prefillMs) / 1000).toFixed(2)} s after a ` +
    `${(s.prefillMs / 1000).toFixed(2)} s prompt read, ${s.tokensPerSecond.toFixed(1)} tok/s, ` +
    `tau ${s.tau.toFixed(2)}, ${s.targetCalls} target calls (finish: ${r.finishReason})`
  );
}

/**
 * One generation of a freshly loaded model, disposed after it (before a second model is loaded);
 * streamed to `out` when given. Returns the result and the drafter's name.
 */
async function generateOnce(
  load: () => Promise<TextGenerator>,
  input: Prompt,
  options: TextGenerateOptions,
  out?: (text: string) => void,
): Promise<{ result: TextResult; drafter: string }> {
  const generator = await load();
  try {
    const drafter = generator.drafter?.name ?? 'none';
    if (!out) return { result: await generator.generate(input, options), drafter };
    const stream = generator.stream(input, options);
    for await (const delta of stream) out(delta);
    out('\n');
    return { result: await stream.result, drafter };
  } finally {
    await generator.dispose();
  }
}

/** The sampling flags a greedy generation (temperature 0) does not use. */
const GREEDY_UNUSED = [
  ['topK', '--top-k'],
  ['topP', '--top-p'],
  ['minP', '--min-p'],
  ['seed', '--seed'],
  ['draftSampling', '--(no-)draft-sampling'],
] as const;

/** The sampling flags given to a greedy generation, but for those the load's warnings named. */
function greedyUnusedFlags(flags: GenerateFlags, loadWarnings: readonly string[]): string[] {
  if (flags.temperature !== 0) return [];
  return GREEDY_UNUSED.filter(
    ([key, flag]) =>
      flags[key] !== undefined && !loadWarnings.some((warning) => warning.includes(`"${flag}"`)),
  ).map(([, flag]) => flag);
}

/** `treespec generate "<prompt>"`: streams the continuation to stdout. */
export function registerGenerate(program: Command): void {
  const command = program
    .command('generate')
    .description('generate text after a prompt, speculatively, with the same output as plain decoding')
    .argument(
      '<prompt>',
      'the prompt (encoded as the model’s tokenizer config says, e.g. with <s>); - reads it from stdin (without its last newline)',
    );
  addModelFlags(command);
  addSamplingFlags(command, 128)
    .option('-t, --temperature <t>', 'sampling temperature (0: greedy)', number, 0)
    .option('--stop <text...>', 'strings that end the generation (cut from the text)')
    .option('--chat', 'treat the prompt as a user message and apply the model’s chat template')
    .option(
      '--chat-template <file>',
      'with --chat: a Jinja chat template for a model whose tokenizer config has none',
    )
    .option('--json', 'print one JSON object {text, tokens, drafter, stats} instead of streaming text')
    .option(
      '--compare',
      'also decode plainly (the same model loaded afresh, no drafter) and print the speed-up',
    )
    .action(async (given: string, flags: GenerateFlags, cmd: Command) => {
      const prompt = given === '-' ? (await text(process.stdin)).replace(/\r?\n$/, '') : given;
      if (prompt.length === 0) throw new OptionError('prompt', prompt, 'a non-empty string');
      const io = cmd.parent!.configureOutput();
      const out = io.writeOut!;
      const err = io.writeErr!;
      const loadWarnings: string[] = [];
      const warn = (warning: string) => {
        loadWarnings.push(warning);
        err(warning);
      };
      const loaded = {
        ...(await loadOptions(flags, [], warn)),
        ...(flags.chatTemplate ? { chatTemplate: await readFile(flags.chatTemplate, 'utf8') } : {}),
        // One generation at one temperature: a greedy one needs no sampling calls warmed, and no
        // call shape recurs often enough to repay ONNX Runtime's memory plans.
        ...(flags.temperature === 0 ? { warmUp: 'greedy' as const } : {}),
        memoryPattern: false,
      };
      // The plain reload reads no corpus, and its warnings were the first load's.
      const { corpus: _corpus, ...plainLoad } = loaded;
      // The greedy warning follows the load's: a flag the load called ignored is not named again.
      const load = async (drafter?: 'none') => {
        if (drafter)
          return loadTreespec(modelDirectory(flags), { ...plainLoad, drafter, onWarning: () => {} });
        const generator = await loadTreespec(modelDirectory(flags), loaded);
        const unused = greedyUnusedFlags(flags, loadWarnings);
        if (unused.length > 0) {
          err(
            `warning: ${unused.join(', ')} ${unused.length === 1 ? 'has' : 'have'} no effect at temperature 0 (greedy); give -t above 0 to sample\n`,
          );
        }
        return generator;
      };
      const input = flags.chat ? [{ role: 'user', content: prompt }] : prompt;
      const options = {
        ...samplingOptions(flags, flags.temperature),
        ...(flags.stop ? { stop: flags.stop } : {}),
        // Its reader gone (`… | head`), the text goes nowhere: the generation ends there.
        signal: stdoutClosed.signal,
      };
      const { result, drafter } = await generateOnce(
        load,
        input,
        options,
        flags.json ? undefined : out,
      ).catch((error: unknown) => {
        // The tokenizer's way out names the library's option; this command's is a flag.
        if (error instanceof ChatTemplateError && flags.chat && !flags.chatTemplate) {
          throw new OptionError(
            '--chat',
            true,
            `given with a model that has a chat template, or with --chat-template <file> (${error.message})`,
          );
        }
        throw error;
      });
      if (stdoutClosed.signal.aborted) return;
      // The plain run loads the model afresh, as `--drafter none` would: in the same sessions it
      // would reuse the memory plans ONNX Runtime made for the first run's call shapes
      // (docs/benchmarks.md), and the comparison would not be that of the two commands.
      const plain = flags.compare ? (await generateOnce(() => load('none'), input, options)).result : null;
      const comparison = plain
        ? {
            plainTokensPerSecond: plain.stats.tokensPerSecond,
            speedup: result.stats.tokensPerSecond / plain.stats.tokensPerSecond,
            identical: flags.temperature === 0 ? plain.tokens.join() === result.tokens.join() : null,
          }
        : null;
      if (flags.json) {
        const json = {
          text: result.text,
          tokens: Array.from(result.tokens),
          drafter,
          finishReason: result.finishReason,
          stats: statsJson(result.stats),
          ...(comparison ? { comparison } : {}),
        };
        out(`${JSON.stringify(json)}\n`);
        return;
      }
      err(`${summary(drafter === 'none' ? 'plain' : `speculative (${drafter})`, result)}\n`);
      if (result.stats.controller) err(`${controllerSummary(result.stats.controller, result.stats.steps)}\n`);
      if (plain && comparison) {
        err(`${summary('plain', plain)}\n`);
        const same =
          comparison.identical === null
            ? ''
            : comparison.identical
              ? ', identical output'
              : ', OUTPUT DIFFERS';
        err(`speed-up over plain decoding: ${comparison.speedup.toFixed(2)}x${same}\n`);
      }
    });
}
