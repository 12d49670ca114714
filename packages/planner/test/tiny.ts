import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tinyDevPrompts, tinyModelDirectory } from '@treespec/model-tiny/node';
import { type Manifest, parseManifest } from '@treespec/onnx';
import { type HfTokenizer, loadTokenizer } from '@treespec/tokenizers';
import * as ort from 'onnxruntime-node';
import type { OpenSession } from '../src/index.js';

/** The embedded tiny model bundle (built by `pnpm build`). */
export const TINY = tinyModelDirectory();

export async function tinyManifest(): Promise<Manifest> {
  return parseManifest(await readFile(join(TINY, 'treespec.json'), 'utf8'));
}

export const openTinySession: OpenSession = (model) =>
  ort.InferenceSession.create(join(TINY, model.file), { intraOpNumThreads: 1 });

/** The tiny bundle's tokenizer, read as the Node loader reads it. */
export async function tinyTokenizer(): Promise<HfTokenizer> {
  const read = (name: string) => readFile(join(TINY, name), 'utf8');
  return loadTokenizer({
    tokenizer: await read('tokenizer.json'),
    config: await read('tokenizer_config.json'),
  });
}

export async function devPrompts(n: number): Promise<string[]> {
  return tinyDevPrompts()
    .slice(0, n)
    .map((p) => p.prompt);
}
