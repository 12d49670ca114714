import { readFile, stat } from 'node:fs/promises';
import { type DynamicTreeOptions, MAX_SEED, OptionError } from '@treespec/core';
import { HYBRID_POLICIES, type HybridPolicy } from '@treespec/drafters';
import type { TextGenerateOptions } from '@treespec/generator';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import type { ExecutionProvider, LoadTreespecOptions } from '@treespec/node';
import {
  ADAPTIVE_STOPS,
  type AdaptiveStop,
  BUNDLE_DRAFTERS,
  type BundleDrafter,
  corpusTextProblem,
  HEAD_PROMPT_ROWS,
  MAX_CORPUS_LENGTH,
  MODEL_DRAFTER_NAMES,
  type ModelDrafterName,
} from '@treespec/planner';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { inFlagTerms } from '../flag-names.js';

/** Flags shared by `generate` and `bench`: the model, the drafter, the tree, the runtime. */
export interface ModelFlags {
  model?: string;
  models?: string[];
  drafter?: BundleDrafter;
  draftTopK?: number;
  draftFrontier?: number;
  draftDepth?: number;
  draftTokens?: number;
  adaptive: AdaptiveStop;
  budget: 'auto' | 'fixed';
  draftSampling?: boolean;
  tuningCache: boolean;
  hybridBase?: ModelDrafterName;
  hybridPolicy?: HybridPolicy;
  headPromptRows?: number;
  corpus?: string[];
  treeTopK?: number;
  treeFrontier?: number;
  treeDepth?: number;
  treeTokens?: number;
  provider: ExecutionProvider;
  threads?: number;
  spinning: boolean;
  maxContext?: number;
}

/** Sampling flags shared by `generate` and `bench`. */
export interface SamplingFlags {
  maxTokens: number;
  topK?: number;
  topP?: number;
  minP?: number;
  repetitionPenalty?: number;
  seed?: number;
}

/** A decimal number, e.g. `128`, `-5`, `1e12` (not `0x10`, `0b1` or an empty string). */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

/** A parser of an integer in [`min`, `max`], written in decimal. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!DECIMAL.test(value) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected an integer >= ${min}`
          : `expected an integer in [${min}, ${max}]`,
      );
    }
    return n;
  };
}

/** A parser of a comma-separated list of integers of at least `min`, e.g. `100,1000`. */
export function integerList(min: number): (value: string) => number[] {
  return (value) => {
    const item = integer(min);
    try {
      return value.split(',').map(item);
    } catch {
      throw new InvalidArgumentError(`expected a comma-separated list of integers >= ${min}`);
    }
  };
}

/** A parser of a number written in decimal, e.g. `0.7`, `1e-3` (not `0x10` or an empty string). */
export function number(value: string): number {
  const n = Number(value);
  if (!DECIMAL.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/** A parser of a comma-separated list of decimal numbers of at least `min`, e.g. `0,0.7,1`. */
export function numberList(min: number): (value: string) => number[] {
  return (value) => {
    const items = value.split(',');
    const values = items.map(Number);
    if (items.some((item, i) => !DECIMAL.test(item) || !(values[i]! >= min) || !Number.isFinite(values[i]))) {
      throw new InvalidArgumentError(`expected a comma-separated list of numbers >= ${min}`);
    }
    return values;
  };
}

/** Adds the model, drafter, tree and runtime flags. */
export function addModelFlags(command: Command): Command {
  return command
    .option(
      '-m, --model <dir>',
      'treespec bundle: a folder holding treespec.json (default: the embedded tiny bundle)',
    )
    .option(
      '--models <ids...>',
      'manifest ids of the models to use, one per role (default: the first of each role; see `treespec inspect`)',
    )
    .addOption(
      new Option(
        '-d, --drafter <name>',
        "how to draft (none: plain decoding; default: the device's and bundle's, hybrid on the CPU with an EAGLE-2 or EAGLE-3 head)",
      ).choices([...BUNDLE_DRAFTERS]),
    )
    .option(
      '--tree-top-k <n>',
      'EAGLE-2 and EAGLE-3: children per expanded node and nodes expanded per depth',
      integer(1),
    )
    .option(
      '--tree-frontier <n>',
      'EAGLE-2 and EAGLE-3: nodes expanded per depth (default: --tree-top-k)',
      integer(1),
    )
    .option(
      '--tree-depth <n>',
      "EAGLE-2 and EAGLE-3: levels grown after the root's children, as EAGLE's depth (head calls per step: n + 1)",
      integer(0),
    )
    .option(
      '--tree-tokens <n>',
      "EAGLE-2 and EAGLE-3: tree nodes verified, the root included, as EAGLE's total_token",
      integer(2),
    )
    .option('--draft-top-k <n>', 'draft-lm: children per expanded node', integer(1))
    .option('--draft-frontier <n>', 'draft-lm: nodes expanded per depth (default: --draft-top-k)', integer(1))
    .option(
      '--draft-depth <n>',
      "draft-lm: levels grown after the root's children (as --tree-depth)",
      integer(0),
    )
    .option(
      '--draft-tokens <n>',
      'draft-lm: tree nodes verified, the root included (as --tree-tokens)',
      integer(2),
    )
    .addOption(
      new Option(
        '--adaptive <rule>',
        'stop growing model drafts early: EAGLE-2 depth rule, AdaEDL entropy rule, both',
      )
        .choices(ADAPTIVE_STOPS)
        .default('none'),
    )
    .addOption(
      new Option(
        '--budget <mode>',
        'model drafters: auto lets the controller pick each step’s tree (or none) within the tree flags; fixed drafts them whole',
      )
        .choices(['auto', 'fixed'])
        .default('auto'),
    )
    .option(
      '--draft-sampling',
      'draft-lm, eagle2, eagle3: draw sampled draft trees at every sampling temperature (> 0) instead of top-k trees (within the tree flags given); default: sampled trees from temperature 1, below it top-k trees sized by the budget controller',
    )
    .option(
      '--no-draft-sampling',
      'draft-lm, eagle2, eagle3: draw top-k draft trees at every sampling temperature (by default only below temperature 1)',
    )
    .option('--no-tuning-cache', 'do not seed the budget controller from stored `treespec tune` results')
    .addOption(
      new Option(
        '--hybrid-base <drafter>',
        "hybrid: the model drafter (default: the bundle's: eagle2, else eagle3, else draft-lm)",
      ).choices(MODEL_DRAFTER_NAMES),
    )
    .addOption(
      new Option('--hybrid-policy <policy>', 'hybrid: how each step picks a tree').choices(HYBRID_POLICIES),
    )
    .option(
      '--head-prompt-rows <n>',
      `eagle2, eagle3, hybrid: the prompt's newest tokens an EAGLE head reads before its first draft (0: all; default ${HEAD_PROMPT_ROWS})`,
      integer(0),
    )
    .option('--corpus <files...>', 'suffix/hybrid: text files the suffix automaton may also copy from')
    .addOption(
      new Option('--provider <name>', 'ONNX Runtime execution provider')
        .choices(['cpu', 'webgpu', 'cuda'])
        .default('cpu'),
    )
    .option(
      '--threads <n>',
      'intra-op threads of the target (default: the physical cores on Linux, else ONNX Runtime chooses)',
      integer(1),
    )
    .option('--no-spinning', 'let idle ONNX Runtime threads sleep between operators instead of spin-waiting')
    .option('--max-context <n>', 'context window to allocate (default: the model’s)', integer(1));
}

/** Adds the sampling flags; `--temperature` is added by each command (a list for bench). */
export function addSamplingFlags(command: Command, defaultMaxTokens: number): Command {
  return command
    .option('-n, --max-tokens <n>', 'tokens to generate', integer(1), defaultMaxTokens)
    .option('--top-k <n>', 'sample from the k most likely tokens (0: off)', integer(0))
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1]', number)
    .option('--min-p <p>', 'drop tokens below p times the most likely one', number)
    .option('--repetition-penalty <x>', 'CTRL-style repetition penalty (1: off)', number)
    .option('--seed <n>', `seed of the sampling stream, in [0, ${MAX_SEED}]`, integer(0, MAX_SEED));
}

export function modelDirectory(flags: ModelFlags): string {
  return flags.model ?? tinyModelDirectory();
}

export function treeOptions(flags: ModelFlags): DynamicTreeOptions {
  return {
    ...(flags.treeTopK !== undefined ? { topK: flags.treeTopK } : {}),
    ...(flags.treeFrontier !== undefined ? { frontier: flags.treeFrontier } : {}),
    ...(flags.treeDepth !== undefined ? { depth: flags.treeDepth } : {}),
    ...(flags.treeTokens !== undefined ? { totalTokens: flags.treeTokens } : {}),
  };
}

export function draftTreeOptions(flags: ModelFlags): DynamicTreeOptions {
  return {
    ...(flags.draftTopK !== undefined ? { topK: flags.draftTopK } : {}),
    ...(flags.draftFrontier !== undefined ? { frontier: flags.draftFrontier } : {}),
    ...(flags.draftDepth !== undefined ? { depth: flags.draftDepth } : {}),
    ...(flags.draftTokens !== undefined ? { totalTokens: flags.draftTokens } : {}),
  };
}

/**
 * Reads the `--corpus` files as text documents, after checking that they hold no more than a load
 * takes ({@link MAX_CORPUS_LENGTH}; UTF-8 never has fewer bytes than characters), so that an
 * oversized file is refused before it is read.
 * @throws OptionError when the files are too large together, or one is not text.
 */
export async function readCorpus(flags: ModelFlags): Promise<string[] | undefined> {
  if (!flags.corpus) return undefined;
  const sizes = await Promise.all(flags.corpus.map(async (file) => (await stat(file)).size));
  const total = sizes.reduce((sum, size) => sum + size, 0);
  if (total > MAX_CORPUS_LENGTH) {
    throw new OptionError(
      '--corpus',
      flags.corpus,
      `files of at most ${MAX_CORPUS_LENGTH} bytes (${MAX_CORPUS_LENGTH / 2 ** 20} MiB) in all; these hold ${total}`,
    );
  }
  return Promise.all(
    flags.corpus.map(async (file) => {
      const text = await readFile(file, 'utf8');
      const problem = corpusTextProblem(text);
      if (problem !== null) throw new OptionError('--corpus', file, `text files; this one ${problem}`);
      return text;
    }),
  );
}

/**
 * The load options the flags ask for, with the load's warnings written through `warn`, options
 * named by their flags (`--tree-top-k/…`, not `tree`).
 */
export async function loadOptions(
  flags: ModelFlags,
  drafters: readonly BundleDrafter[],
  warn: (text: string) => void,
): Promise<LoadTreespecOptions> {
  const corpus = await readCorpus(flags);
  return {
    onWarning: (text) => warn(`${inFlagTerms(text)}\n`),
    ...(flags.drafter ? { drafter: flags.drafter } : {}),
    drafters,
    tree: treeOptions(flags),
    draftTree: draftTreeOptions(flags),
    adaptive: flags.adaptive,
    budget: flags.budget,
    ...(flags.draftSampling !== undefined ? { draftSampling: flags.draftSampling } : {}),
    ...(flags.tuningCache === false ? { tuningCache: false as const } : {}),
    ...(flags.hybridBase ? { hybridBase: flags.hybridBase } : {}),
    ...(flags.hybridPolicy ? { hybridPolicy: flags.hybridPolicy } : {}),
    ...(flags.headPromptRows !== undefined ? { headPromptRows: flags.headPromptRows } : {}),
    ...(corpus ? { corpus } : {}),
    ...(flags.models ? { models: flags.models } : {}),
    executionProvider: flags.provider,
    ...(flags.threads !== undefined ? { intraOpNumThreads: flags.threads } : {}),
    ...(flags.spinning === false ? { spinning: false } : {}),
    ...(flags.maxContext !== undefined ? { maxContext: flags.maxContext } : {}),
  };
}

export function samplingOptions(flags: SamplingFlags, temperature: number): TextGenerateOptions {
  return {
    maxTokens: flags.maxTokens,
    temperature,
    ...(flags.topK !== undefined ? { topK: flags.topK } : {}),
    ...(flags.topP !== undefined ? { topP: flags.topP } : {}),
    ...(flags.minP !== undefined ? { minP: flags.minP } : {}),
    ...(flags.repetitionPenalty !== undefined ? { repetitionPenalty: flags.repetitionPenalty } : {}),
    ...(flags.seed !== undefined ? { seed: flags.seed } : {}),
  };
}
