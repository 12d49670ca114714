import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DraftTree } from '@treespec/core';
import { tinyCheckpointDirectory } from '@treespec/model-tiny/node';
import { causalLmLayout, findModel, OnnxCausalLm, parseManifest } from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget } from './converted-target.js';
import { devPrompts, targetCases } from './tiny.js';

/**
 * The 1e-3, as for fp32: a bf16 weight inside half's normal range is exactly a half, so
 * fp16 storage of these bf16-trained weights changes nothing but the few below about 6e-5
 * (measured: largest difference from the PyTorch logits 5.2e-5, the same as fp32 storage).
 */
const FP16_TOLERANCE = 1e-3;

interface VectorCase {
  prompt_ids: number[];
  positions?: { position: number; first64: number[]; argmax: number }[];
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-fp16-tiny-'));
  await bundleWithTarget(dir, { weightFormat: 'fp16' });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the tiny target with fp16 weights on the CPU provider', () => {
  it('stays within the documented tolerance of the PyTorch logits, with the same argmax', async () => {
    const manifestPath = join(dir, 'treespec.json');
    const entry = findModel(
      parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath),
      'target',
      manifestPath,
    );
    expect(entry.weightFormat).toBe('fp16');
    const c = (
      JSON.parse(readFileSync(join(tinyCheckpointDirectory('target'), 'test-vectors.json'), 'utf8')) as {
        cases: VectorCase[];
      }
    ).cases[0]!;
    const runner = new OnnxCausalLm(await createSession(join(dir, entry.file)), causalLmLayout(entry));
    try {
      for (const p of c.positions!) {
        runner.reset();
        if (p.position > 0) await runner.prefill(Int32Array.from(c.prompt_ids.slice(0, p.position)));
        const tree = new DraftTree(1);
        tree.reset(c.prompt_ids[p.position]!);
        const { logits } = await runner.verify(tree);
        let worst = 0;
        for (let i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(logits[i]! - p.first64[i]!));
        expect(worst).toBeLessThan(FP16_TOLERANCE);
        let best = 0;
        for (let i = 1; i < entry.dims.vocab; i++) if (logits[i]! > logits[best]!) best = i;
        expect(best).toBe(p.argmax);
      }
    } finally {
      await runner.dispose();
    }
  });

  it('gives the recorded greedy continuations, and speculative output equal to fp16 plain decoding for every drafter', async () => {
    const drafters = ['eagle2', 'draft-lm', 'lookup', 'hybrid'];
    const generator = await loadTreespec(dir, { drafters });
    try {
      for (const c of targetCases()) {
        const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
        expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
      }
      for (const { prompt } of devPrompts(2)) {
        const plain = await generator.generate(prompt, { maxTokens: 40, plain: true });
        for (const drafter of drafters) {
          const r = await generator.generate(prompt, { maxTokens: 40, drafter });
          expect(Array.from(r.tokens), drafter).toEqual(Array.from(plain.tokens));
        }
      }
    } finally {
      await generator.dispose();
    }
  }, 240_000);
});
