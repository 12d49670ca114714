import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget, expectRecordedLogits, targetEntry } from './converted-target.js';
import { devPrompts, targetCases } from './tiny.js';

/**
 * The 1e-3, as for fp32: a bf16 weight inside half's normal range is exactly a half, so
 * fp16 storage of these bf16-trained weights changes nothing but the few below about 6e-5
 * (measured: largest difference from the PyTorch logits 5.2e-5, the same as fp32 storage).
 */
const FP16_TOLERANCE = 1e-3;

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
    const entry = targetEntry(dir);
    expect(entry.weightFormat).toBe('fp16');
    const runner = new OnnxCausalLm(await createSession(join(dir, entry.file)), causalLmLayout(entry));
    try {
      await expectRecordedLogits(runner, entry.dims.vocab, FP16_TOLERANCE);
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
