import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TextGenerator } from '@treespec/generator';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import { SharedKvCache } from '@treespec/onnx/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget, expectRecordedLogits, targetEntry } from './converted-target.js';
import { devPrompts, TINY, targetCases } from './tiny.js';

/** PyTorch fp32 vs ONNX Runtime fp32 on the same weights: the 1e-3 on logits. */
const TOLERANCE = 1e-3;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-fused-tiny-'));
  await bundleWithTarget(dir, { attention: 'fused' });
}, 120_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the tiny target with fused attention (GroupQueryAttention) on the CPU provider', () => {
  it('reproduces the PyTorch logits at the recorded positions within 1e-3', async () => {
    const entry = targetEntry(dir);
    expect(entry.attention).toBe('fused');
    const runner = new OnnxCausalLm(await createSession(join(dir, entry.file)), causalLmLayout(entry));
    expect(runner.cache).toBeInstanceOf(SharedKvCache);
    const _vocab = entry.dims.vocab;
    try {
      await expectRecordedLogits(runner, entry.dims.vocab, TOLERANCE);
    } finally {
      await runner.dispose();
    }
  });

  it('continues the reference prompts exactly as PyTorch greedy decoding did, with EAGLE-2', async () => {
    const generator = await loadTreespec(dir);
    try {
      for (const c of targetCases()) {
        const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
        expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
      }
    } finally {
      await generator.dispose();
    }
  }, 120_000);

  it('keeps greedy output identical to plain decoding of the plain-attention target for every drafter', async () => {
    const drafters = ['eagle2', 'draft-lm', 'lookup', 'suffix', 'hybrid'];
    let fused: TextGenerator | null = null;
    const plainTarget = await loadTreespec(TINY);
    try {
      fused = await loadTreespec(dir, { drafters });
      for (const { prompt } of devPrompts(3)) {
        const reference = await plainTarget.generate(prompt, { maxTokens: 40, plain: true });
        const plain = await fused.generate(prompt, { maxTokens: 40, plain: true });
        expect(Array.from(plain.tokens)).toEqual(Array.from(reference.tokens));
        for (const drafter of drafters) {
          const r = await fused.generate(prompt, { maxTokens: 40, drafter });
          expect(Array.from(r.tokens), drafter).toEqual(Array.from(reference.tokens));
        }
      }
    } finally {
      await fused?.dispose();
      await plainTarget.dispose();
    }
  }, 240_000);
});
