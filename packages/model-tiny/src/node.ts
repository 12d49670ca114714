import { fileURLToPath } from 'node:url';
import { TINY_BUNDLE, TINY_MODEL_IDS, type TinyModelId } from './bundle.js';

export { TINY_BUNDLE, TINY_MODEL_IDS, type TinyModelId } from './bundle.js';

const packageRoot = new URL('../', import.meta.url);

const CHECKPOINTS: Record<TinyModelId, string> = {
  [TINY_MODEL_IDS.target]: 'treespec-tiny',
  [TINY_MODEL_IDS.eagleHead]: 'treespec-tiny-eagle2',
  [TINY_MODEL_IDS.eagleHeadFp32]: 'treespec-tiny-eagle2',
  [TINY_MODEL_IDS.eagle3Head]: 'treespec-tiny-eagle3',
  [TINY_MODEL_IDS.draft]: 'treespec-tiny-draft',
  [TINY_MODEL_IDS.draftInt8]: 'treespec-tiny-draft',
};

/** Absolute path of the converted bundle (treespec.json, the .onnx files, the tokenizer). */
export function tinyModelDirectory(): string {
  return fileURLToPath(new URL(`models/${TINY_BUNDLE}/`, packageRoot));
}

/** Absolute path of the Hugging Face checkpoint a tiny model was converted from. */
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
