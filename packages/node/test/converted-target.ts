import { readFileSync } from 'node:fs';
import { copyFile, link, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ConvertCausalLMOptions, convertCausalLM } from '@treespec/convert';
import { DraftTree } from '@treespec/core';
import { tinyCheckpointDirectory } from '@treespec/model-tiny/node';
import { causalLmLayout, findModel, OnnxCausalLm, parseManifest } from '@treespec/onnx';
import { createSession } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

/**
 * Fills `dir` with a copy of the tiny bundle whose target is converted again with `options`
 * (fused attention, fp16 weights, …), capturing the layers the EAGLE-3 head reads as before: the
 * drafters' model files are hard-linked (a bundle's files may not be symlinks out of it) or
 * copied, the target's written fresh, the manifest and tokenizer files copied.
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
  // The layers the bundle's EAGLE-3 head reads, which the converter keeps a target from dropping.
  const capturedLayers = targetEntry(TINY).capturedLayers;
  await convertCausalLM({
    checkpoint: tinyCheckpointDirectory('target'),
    out: dir,
    id: 'target',
    ...(capturedLayers ? { eagle3Layers: capturedLayers } : {}),
    ...options,
  });
}

/** The target's entry in the manifest of the bundle in `dir`. */
export function targetEntry(dir: string): ReturnType<typeof findModel> {
  const manifestPath = join(dir, 'treespec.json');
  return findModel(parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath), 'target', manifestPath);
}

/**
 * The tiny bundle's target through its runner, with `prompt` prefilled: the first test case's
 * prompt less its last token (a tree's root).
 */
export async function tinyTargetAfterPrompt(): Promise<{ runner: OnnxCausalLm; prompt: Int32Array }> {
  const runner = new OnnxCausalLm(
    await createSession(`${TINY}/target.onnx`),
    causalLmLayout(targetEntry(TINY)),
  );
  const prompt = Int32Array.from(targetCases()[0]!.prompt_ids.slice(0, -1));
  try {
    await runner.prefill(prompt);
    return { runner, prompt };
  } catch (error) {
    await runner.dispose();
    throw error;
  }
}

interface VectorCase {
  prompt_ids: number[];
  positions?: { position: number; first64: number[]; argmax: number }[];
}

/**
 * Checks `runner` against the PyTorch test vectors of the tiny target (first case): at each
 * recorded position, the first 64 logits within `tolerance` and the same argmax over `vocab`.
 */
export async function expectRecordedLogits(
  runner: OnnxCausalLm,
  vocab: number,
  tolerance: number,
): Promise<void> {
  // Imported here, not at the top: bench/webgpu-step.ts runs bundleWithTarget outside vitest.
  const { expect } = await import('vitest');
  const c = (
    JSON.parse(readFileSync(join(tinyCheckpointDirectory('target'), 'test-vectors.json'), 'utf8')) as {
      cases: VectorCase[];
    }
  ).cases[0]!;
  for (const p of c.positions!) {
    runner.reset();
    if (p.position > 0) await runner.prefill(Int32Array.from(c.prompt_ids.slice(0, p.position)));
    const tree = new DraftTree(1);
    tree.reset(c.prompt_ids[p.position]!);
    const { logits } = await runner.verify(tree);
    let worst = 0;
    for (let i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(logits[i]! - p.first64[i]!));
    expect(worst).toBeLessThan(tolerance);
    let best = 0;
    for (let i = 1; i < vocab; i++) if (logits[i]! > logits[best]!) best = i;
    expect(best).toBe(p.argmax);
  }
}
