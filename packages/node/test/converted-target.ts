import { copyFile, link, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ConvertCausalLMOptions, convertCausalLM } from '@treespec/convert';
import { tinyCheckpointDirectory } from '@treespec/model-tiny/node';
import { TINY } from './tiny.js';

/**
 * Fills `dir` with a copy of the tiny bundle whose target is converted again with `options`
 * (fused attention, fp16 weights, …): the drafters' model files are hard-linked (a bundle's files
 * may not be symlinks out of it) or copied, the target's written
 * fresh, the manifest and tokenizer files copied.
 */
export async function bundleWithTarget(
  dir: string,
  options: Pick<ConvertCausalLMOptions, 'attention' | 'weightFormat' | 'graph'>,
): Promise<void> {
  for (const file of await readdir(TINY)) {
    if (file.startsWith('target.onnx')) continue;
    if (file.endsWith('.onnx') || file.endsWith('.onnx.data'))
      await link(join(TINY, file), join(dir, file)).catch(() => copyFile(join(TINY, file), join(dir, file)));
    else await copyFile(join(TINY, file), join(dir, file));
  }
  await convertCausalLM({
    checkpoint: tinyCheckpointDirectory('target'),
    out: dir,
    id: 'target',
    ...options,
  });
}
