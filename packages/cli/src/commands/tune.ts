import { readFile } from 'node:fs/promises';
import { type ControllerSeed, type DynamicTreeOptions, ModelFormatError, OptionError } from '@treespec/core';
import { tinyDevPromptsPath } from '@treespec/model-tiny/node';
import {
  defaultTuningCacheFile,
  loadTreespec,
  readBundleManifest,
  type TextResult,
  tuningKey,
  writeTuningCache,
} from '@treespec/node';
import { type BundleDevice, type ManifestModel, parseManifest } from '@treespec/onnx';
import {
  bundleModelDrafter,
  MODEL_DRAFTER_NAMES,
  MODEL_DRAFTERS,
  type ModelDrafterName,
} from '@treespec/planner';
import { SingleBar } from 'cli-progress';
import { type Command, Option } from 'commander';
import { checkWritable as checkWritableFile } from '../flag-checks.js';
import { startBar } from '../progress-bar.js';
import { replaceFile } from '../replace-file.js';
import { readPrompts, summarise } from './bench.js';
import { integer, loadOptions, type ModelFlags, modelDirectory } from './generation-flags.js';

interface TuneFlags extends ModelFlags {
  /** The model drafter whose budget is tuned; default the bundle's (`bundleModelDrafter`). */
  drafter?: ModelDrafterName;
  prompts?: string;
  limit: number;
  maxTokens: number;
  json?: string;
  write: boolean;
  progress: boolean;
  save: boolean;
}

/** Averages the step costs measured under every budget into one seed; `plainMs` prices a root-only tree. */
export function mergeSeeds(seeds: readonly ControllerSeed[], plainMs: number): ControllerSeed {
  const mean = (pairs: ReadonlyArray<readonly [number, number]>): Array<[number, number]> => {
    const sums = new Map<number, { ms: number; n: number }>();
    for (const [size, ms] of pairs) {
      const s = sums.get(size) ?? { ms: 0, n: 0 };
      s.ms += ms;
      s.n++;
      sums.set(size, s);
    }
    return [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([size, s]) => [size, s.ms / s.n]);
  };
  const overheads = seeds.flatMap((s) => (s.overheadMs === undefined ? [] : [s.overheadMs]));
  return {
    verifyMs: mean([[1, plainMs], ...seeds.flatMap((s) => s.verifyMs.filter(([size]) => size > 1))]),
    draftMs: mean(seeds.flatMap((s) => s.draftMs)),
    ...(overheads.length > 0 ? { overheadMs: overheads.reduce((a, b) => a + b, 0) / overheads.length } : {}),
  };
}

/** The largest budget the grid uses: the head and target buffers are sized for it. */
const LARGEST: Required<Pick<DynamicTreeOptions, 'topK' | 'frontier' | 'depth' | 'totalTokens'>> = {
  topK: 8,
  frontier: 8,
  depth: 5,
  totalTokens: 49,
};

/**
 * Candidate budgets: chains, narrow-frontier trees (cheap deeper draft calls) and EAGLE-2 trees,
 * from small to the reference GPU-sized ones.
 */
export function budgetGrid(): DynamicTreeOptions[] {
  const grid: DynamicTreeOptions[] = [];
  // Written by levels of draft nodes and draft nodes kept; EAGLE's depth and total tokens follow.
  const budget = (topK: number, frontier: number, levels: number, kept: number): DynamicTreeOptions => ({
    topK,
    frontier,
    depth: levels - 1,
    totalTokens: kept + 1,
  });
  for (const levels of [2, 3, 4, 5, 6]) grid.push(budget(1, 1, levels, levels));
  for (const [topK, frontier] of [
    [2, 1],
    [3, 1],
    [4, 1],
    [2, 2],
    [3, 2],
    [4, 2],
    [4, 4],
  ] as const) {
    for (const levels of [3, 4, 5]) {
      for (const kept of [levels + 2, 2 * levels, 3 * levels]) {
        grid.push(budget(topK, frontier, levels, Math.min(kept, topK + (levels - 1) * frontier * topK)));
      }
    }
  }
  grid.push(budget(8, 8, 5, 32), budget(8, 8, 6, 48));
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
    .option(
      '-m, --model <dir>',
      'treespec bundle: a folder holding treespec.json (default: the embedded tiny bundle)',
    )
    .option('--models <ids...>', 'manifest ids of the models to use, one per role')
    .addOption(
      new Option(
        '-d, --drafter <name>',
        "the model drafter to tune (default: the bundle's: eagle2, else eagle3, else draft-lm)",
      ).choices(MODEL_DRAFTER_NAMES),
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
    .option(
      '--write',
      "store the fastest budget in the bundle's treespec.json (tuning section of this provider), where loads on it start from",
    )
    .option('--no-save', 'do not store the measured step costs in the tuning cache')
    .option('--no-progress', 'no progress bar on stderr')
    .action(async (flags: TuneFlags, cmd: Command) => {
      const out = cmd.parent!.configureOutput().writeOut!;
      const note = cmd.parent!.configureOutput().writeErr!;
      const prompts = (await readPrompts(flags.prompts ?? tinyDevPromptsPath())).slice(0, flags.limit);
      const bundle = await readBundleManifest(modelDirectory(flags));
      const drafter = flags.drafter ?? bundleDrafter(bundle.manifest.models, bundle.file);
      if (flags.write) {
        checkWritable(drafter, bundle.manifest.models);
        // Checked before minutes of measuring, not after.
        await checkWritableFile('--write', bundle.file);
      }
      const base = await loadOptions(
        { ...flags, adaptive: 'none', budget: 'fixed', tuningCache: false },
        [drafter],
        note,
      );
      const { tree: _tree, draftTree: _draftTree, ...untreed } = base;
      const loaded = await loadTreespec(modelDirectory(flags), {
        ...untreed,
        drafter,
        [MODEL_DRAFTERS[drafter].budget]: LARGEST,
      });
      try {
        const seeds: ControllerSeed[] = [];
        let plainMs = 0;
        let plainSteps = 0;
        const grid = budgetGrid();
        const bar = flags.progress
          ? new SingleBar({
              format: 'tune [{bar}] {value}/{total} budgets | {label}',
              stream: process.stderr,
              hideCursor: true,
            })
          : null;
        const stopBar = bar ? startBar(bar, () => bar.start(grid.length, 0, { label: '' })) : () => {};
        const rows = [];
        try {
          await loaded.generate(prompts[0]!.prompt, { maxTokens: 8, plain: true });
          for (const budget of grid) {
            await loaded.generate(prompts[0]!.prompt, { maxTokens: 8, tree: budget });
            const pairs: Array<{ plain: TextResult; spec: TextResult }> = [];
            for (const { prompt } of prompts) {
              const p = await loaded.generate(prompt, { maxTokens: flags.maxTokens, plain: true });
              plainMs += p.stats.verifyMs;
              plainSteps += p.stats.steps;
              const s = await loaded.generate(prompt, { maxTokens: flags.maxTokens, tree: budget });
              const costs = s.stats.controller?.costs;
              if (costs)
                seeds.push({ verifyMs: costs.verify, draftMs: costs.draft, overheadMs: costs.overhead });
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
        } finally {
          stopBar();
        }
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
        const budgetName = MODEL_DRAFTERS[drafter].budget;
        const prefix = budgetName === 'tree' ? 'tree' : 'draft';
        const b = best.budget;
        out(
          `\nfastest: ${best.label} (${best.speedup.toFixed(2)}x, tau ${best.tau.toFixed(2)}); use ` +
            `--${prefix}-top-k ${b.topK} --${prefix}-frontier ${b.frontier} --${prefix}-depth ${b.depth} --${prefix}-tokens ${b.totalTokens}\n`,
        );
        if (flags.save) {
          const file = defaultTuningCacheFile();
          await writeTuningCache(
            file,
            tuningKey(bundle.text, flags.provider, flags.threads),
            drafter,
            mergeSeeds(seeds, plainMs / plainSteps),
          );
          note(`step costs saved to ${file}: the budget controller starts from them on this machine\n`);
        }
        if (flags.json) {
          await replaceFile(
            flags.json,
            `${JSON.stringify({ drafter, maxTokens: flags.maxTokens, prompts: prompts.length, rows }, null, 2)}\n`,
          );
          note(`measurements written to ${flags.json}\n`);
        }
        if (flags.write) {
          await writeTuning(bundle.file, flags.provider, budgetName, b);
          note(`budget written to ${bundle.file} (tuning.${flags.provider})\n`);
        }
      } finally {
        await loaded.dispose();
      }
    });
}

/**
 * Checks that `--write` stores `drafter`'s budget for it alone: the EAGLE-2 and EAGLE-3 heads'
 * trees share one budget (`tree`), so an EAGLE-3 tuning written into a bundle with an EAGLE-2
 * head would become the EAGLE-2 head's start too.
 * @throws OptionError naming `--write`.
 */
function checkWritable(drafter: ModelDrafterName, models: ReadonlyArray<{ role: string }>): void {
  const shared = MODEL_DRAFTER_NAMES.find(
    (other) =>
      other !== drafter &&
      MODEL_DRAFTERS[other].budget === MODEL_DRAFTERS[drafter].budget &&
      models.some((m) => m.role === MODEL_DRAFTERS[other].role),
  );
  if (shared !== undefined) {
    throw new OptionError(
      '--write',
      true,
      `left out for ${drafter} in a bundle that also has the ${shared} drafter's model: their trees share one budget (tuning.<provider>.${MODEL_DRAFTERS[drafter].budget}); the step costs still go to the tuning cache`,
    );
  }
}

/** The model drafter `treespec tune` tunes in a bundle when none is named. */
function bundleDrafter(
  models: ReadonlyArray<{ role: ManifestModel['role'] }>,
  manifestFile: string,
): ModelDrafterName {
  const drafter = bundleModelDrafter(models);
  if (drafter === undefined) {
    throw new ModelFormatError(
      'lists no draft model to tune (an EAGLE head, an EAGLE-3 head or a draft LM)',
      {
        file: manifestFile,
      },
    );
  }
  return drafter;
}

/**
 * Stores `budget` as the bundle's own budget for `device` in its manifest, keeping every other
 * field; the manifest is validated before and after, so a bad write never leaves a broken bundle.
 */
export async function writeTuning(
  file: string,
  device: BundleDevice,
  name: 'tree' | 'draftTree',
  budget: DynamicTreeOptions,
): Promise<void> {
  const manifest = parseManifest(await readFile(file, 'utf8'), file);
  const tuning = { ...manifest.tuning, [device]: { ...manifest.tuning?.[device], [name]: budget } };
  const text = `${JSON.stringify({ ...manifest, tuning }, null, 2)}\n`;
  parseManifest(text, file);
  await replaceFile(file, text);
}
