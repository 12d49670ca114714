import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINY_BUNDLE, TINY_MODEL_IDS, type TinyModelId } from './bundle.js';

export * from './index.js';

const packageRoot = new URL('../', import.meta.url);

const CHECKPOINTS: Record<TinyModelId, string> = {
  [TINY_MODEL_IDS.target]: 'treespec-tiny',
  [TINY_MODEL_IDS.eagleHeadContext]: 'treespec-tiny-eagle2',
  [TINY_MODEL_IDS.eagleHead]: 'treespec-tiny-eagle2',
  [TINY_MODEL_IDS.eagleHeadFp32]: 'treespec-tiny-eagle2',
  [TINY_MODEL_IDS.eagle3Head]: 'treespec-tiny-eagle3',
  [TINY_MODEL_IDS.draft]: 'treespec-tiny-draft',
  [TINY_MODEL_IDS.draftInt8]: 'treespec-tiny-draft',
};

/**
 * Folder that holds the converted bundle of an installed package: `$TREESPEC_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/treespec`, else `~/.cache/treespec`, then `model-tiny-<version>/`.
 */
export function tinyCacheDirectory(): string {
  const { version } = JSON.parse(readFileSync(new URL('package.json', packageRoot), 'utf8')) as {
    version: string;
  };
  const cache =
    process.env['TREESPEC_CACHE_DIR'] ||
    join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'treespec');
  return join(cache, `model-tiny-${version}`);
}

/**
 * Absolute path of the converted bundle (treespec.json, the .onnx files, the tokenizer).
 *
 * In the repository, `pnpm build` converts all five models into the package's `models/tiny/`.
 * The npm package ships the target and the EAGLE-2 head as packed bf16 weights instead (a third of
 * the size); the first call converts them into {@link tinyCacheDirectory} (about a second, in a
 * child process so that this function stays synchronous) and later calls reuse that bundle: the
 * target, the int8 EAGLE-2 head and the fp32 head.
 */
export function tinyModelDirectory(): string {
  if (existsSync(fileURLToPath(new URL('checkpoints/treespec-tiny/model.safetensors', packageRoot)))) {
    return fileURLToPath(new URL(`models/${TINY_BUNDLE}/`, packageRoot));
  }
  const bundle = join(tinyCacheDirectory(), TINY_BUNDLE);
  if (!existsSync(join(bundle, 'treespec.json'))) {
    execFileSync(
      process.execPath,
      [fileURLToPath(new URL('prepare-bundle-main.js', import.meta.url)), bundle],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return `${bundle}/`;
}

/**
 * Absolute path of the Hugging Face checkpoint a tiny model was converted from: its config,
 * tokenizer and model card. Its `model.safetensors` is there in the repository only (the npm
 * package ships the weights packed; {@link tinyModelDirectory} converts them).
 */
export function tinyCheckpointDirectory(model: TinyModelId): string {
  return fileURLToPath(new URL(`checkpoints/${CHECKPOINTS[model]}/`, packageRoot));
}

/** Absolute path of a model's PyTorch reference numbers (`test-vectors.json`). */
export function tinyTestVectorsPath(model: TinyModelId): string {
  return fileURLToPath(new URL(`checkpoints/${CHECKPOINTS[model]}/test-vectors.json`, packageRoot));
}

/** Absolute path of the 39 development prompts (`prompts-dev.jsonl`: `{"id","prompt","kind","source"}` per line). */
export function tinyDevPromptsPath(): string {
  return fileURLToPath(new URL('checkpoints/prompts-dev.jsonl', packageRoot));
}

/** One of the development prompts: its id, its text, its kind (e.g. `prose`, `code`) and where it comes from. */
export interface TinyDevPrompt {
  id: string;
  prompt: string;
  kind: string;
  source: string;
}

/** The 39 development prompts of {@link tinyDevPromptsPath}, in file order. */
export function tinyDevPrompts(): TinyDevPrompt[] {
  return readFileSync(tinyDevPromptsPath(), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TinyDevPrompt);
}
