import { writeFile } from 'node:fs/promises';
import { type Drafter, DynamicTreeGrowth, type DynamicTreeOptions, OptionError } from '@treespec/core';
import { DraftLmDrafter, EagleDrafter } from '@treespec/drafters';
import { TextGenerator, type TextResult } from '@treespec/generator';
import { tinyDevPromptsPath } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { readPrompts, summarise } from './bench.js';
import { integer, loadOptions, type ModelFlags, modelDirectory } from './generation-flags.js';

interface TuneFlags extends ModelFlags {
  prompts?: string;
  limit: number;
  maxTokens: number;
  json?: string;
  progress: boolean;
}

/** The largest budget the grid uses: the head and target buffers are sized for it. */
const LARGEST: Required<Pick<DynamicTreeOptions, 'topK' | 'frontier' | 'depth' | 'totalTokens'>> = {
  topK: 8,
  frontier: 8,
  depth: 6,
  totalTokens: 48,
};

/**
 * Candidate budgets: chains, narrow-frontier trees (cheap deeper draft calls) and EAGLE-2 trees,
 * from small to the reference GPU-sized ones.
 */
export function budgetGrid(): DynamicTreeOptions[] {
  const grid: DynamicTreeOptions[] = [];
  for (const depth of [2, 3, 4, 5, 6]) grid.push({ topK: 1, frontier: 1, depth, totalTokens: depth });
  for (const [topK, frontier] of [
    [2, 1],
    [3, 1],
    [4, 1],
    [2, 2],
    [3, 2],
    [4, 2],
    [4, 4],
  ] as const) {
    for (const depth of [3, 4, 5]) {
      for (const total of [depth + 2, 2 * depth, 3 * depth]) {
        grid.push({
          topK,
          frontier,
          depth,
          totalTokens: Math.min(total, topK + (depth - 1) * frontier * topK),
        });
      }
    }
  }
  grid.push(
    { topK: 8, frontier: 8, depth: 5, totalTokens: 32 },
    { topK: 8, frontier: 8, depth: 6, totalTokens: 48 },
  );
  const seen = new Set<string>();
  return grid.filter((b) => {
    const key = JSON.stringify(b);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function label(b: DynamicTreeOptions): string {
  return `k${b.topK} f${b.frontier} d${b.depth} n${b.totalTokens}`;
}

/** `treespec tune`: measures tree budgets on this machine and recommends the fastest. */
export function registerTune(program: Command): void {
  program
    .command('tune')
    .description(
      'try tree budgets on this machine and recommend the fastest (draft cost and verification cost decide it)',
    )
    .option('-m, --model <dir>', 'treespec model directory (default: the embedded tiny model)')
    .option('--models <ids...>', 'manifest ids of the models to use, one per role')
    .addOption(
      new Option('-d, --drafter <name>', 'the model drafter to tune')
        .choices(['eagle2', 'draft-lm'])
        .default('eagle2'),
    )
    .option('-p, --prompts <file>', 'JSON lines of {"id","prompt"} (default: the development prompts)')
    .option('-l, --limit <n>', 'prompts to use', integer(1), 6)
    .option('-n, --max-tokens <n>', 'tokens per generation', integer(1), 64)
    .addOption(
      new Option('--provider <name>', 'execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'),
    )
    .option('--threads <n>', 'intra-op threads of the target', integer(1))
    .option('--no-spinning', 'let idle ONNX Runtime threads sleep between operators')
    .option('--json <file>', 'write every measurement as JSON')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (flags: TuneFlags, cmd: Command) => {
      const out = cmd.parent!.configureOutput().writeOut!;
      const prompts = (await readPrompts(flags.prompts ?? tinyDevPromptsPath())).slice(0, flags.limit);
      const base = await loadOptions({ ...flags, adaptive: 'none' }, [flags.drafter]);
      const loaded = await loadTreespec(modelDirectory(flags), {
        ...base,
        drafter: flags.drafter,
        tree: LARGEST,
        draftTree: LARGEST,
      });
      try {
        const model = loaded.drafters[flags.drafter === 'eagle2' ? 'eagle2' : 'draft-lm'];
        if (!(model instanceof EagleDrafter || model instanceof DraftLmDrafter)) {
          throw new OptionError('--drafter', flags.drafter, 'a model drafter this bundle provides');
        }
        const make = (budget: DynamicTreeOptions): Drafter => {
          const growth = new DynamicTreeGrowth(budget);
          return model instanceof EagleDrafter
            ? new EagleDrafter(model.model, { growth })
            : new DraftLmDrafter(model.model, { growth });
        };
        const grid = budgetGrid();
        const bar = flags.progress
          ? new SingleBar({
              format: 'tune [{bar}] {value}/{total} budgets | {label}',
              stream: process.stderr,
              hideCursor: true,
            })
          : null;
        bar?.start(grid.length, 0, { label: '' });
        const plain = new TextGenerator({ tokenizer: loaded.tokenizer, target: loaded.target });
        await plain.generate(prompts[0]!.prompt, { maxTokens: 8 });
        const rows = [];
        for (const budget of grid) {
          const generator = new TextGenerator({
            tokenizer: loaded.tokenizer,
            target: loaded.target,
            drafter: make(budget),
          });
          await generator.generate(prompts[0]!.prompt, { maxTokens: 8 });
          const pairs: Array<{ plain: TextResult; spec: TextResult }> = [];
          for (const { prompt } of prompts) {
            const p = await plain.generate(prompt, { maxTokens: flags.maxTokens });
            const s = await generator.generate(prompt, { maxTokens: flags.maxTokens });
            pairs.push({ plain: p, spec: s });
          }
          const row = summarise(pairs, true);
          const steps = pairs.reduce((n, p) => n + p.spec.stats.steps, 0);
          const draftMs = pairs.reduce((n, p) => n + p.spec.stats.draftMs, 0);
          const verifyMs = pairs.reduce((n, p) => n + p.spec.stats.verifyMs, 0);
          rows.push({
            budget,
            label: label(budget),
            ...row,
            draftMsPerStep: draftMs / steps,
            verifyMsPerStep: verifyMs / steps,
          });
          bar?.increment(1, { label: label(budget) });
        }
        bar?.stop();
        rows.sort((a, b) => b.speedup - a.speedup);
        out(
          `${'budget'.padEnd(18)} ${'tau'.padStart(5)} ${'draft ms'.padStart(9)} ${'verify ms'.padStart(10)} ${'speedup'.padStart(8)} ${'same'.padStart(5)}\n`,
        );
        for (const r of rows) {
          out(
            `${r.label.padEnd(18)} ${r.tau.toFixed(2).padStart(5)} ${r.draftMsPerStep.toFixed(2).padStart(9)} ${r.verifyMsPerStep.toFixed(2).padStart(10)} ${`${r.speedup.toFixed(2)}x`.padStart(8)} ${(r.identical ? 'yes' : 'NO').padStart(5)}\n`,
          );
        }
        const best = rows[0]!;
        const prefix = flags.drafter === 'eagle2' ? 'tree' : 'draft';
        const b = best.budget;
        out(
          `\nfastest: ${best.label} (${best.speedup.toFixed(2)}x, tau ${best.tau.toFixed(2)}); use ` +
            `--${prefix}-top-k ${b.topK} --${prefix}-frontier ${b.frontier} --${prefix}-depth ${b.depth} --${prefix}-tokens ${b.totalTokens}\n`,
        );
        if (flags.json) {
          await writeFile(
            flags.json,
            `${JSON.stringify({ drafter: flags.drafter, maxTokens: flags.maxTokens, prompts: prompts.length, rows }, null, 2)}\n`,
          );
          out(`measurements written to ${flags.json}\n`);
        }
      } finally {
        await loaded.dispose();
      }
    });
}
