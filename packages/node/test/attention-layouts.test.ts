import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TextGenerator } from '@treespec/generator';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import { HeadMajorKvCache, SharedKvCache } from '@treespec/onnx/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget, expectRecordedLogits, targetEntry } from './converted-target.js';
import { devPrompts, TINY, targetCases } from './tiny.js';

/** PyTorch fp32 vs ONNX Runtime fp32 on the same weights: the 1e-3 on logits. */
const TOLERANCE = 1e-3;

const LAYOUTS = [
  {
    attention: 'in-place',
    cache: HeadMajorKvCache,
    what: 'in-place attention (a head-major cache read where it lies)',
  },
  { attention: 'fused', cache: SharedKvCache, what: 'fused attention (GroupQueryAttention)' },
] as const;

describe.each(LAYOUTS)('the tiny target with $what on the CPU provider', ({ attention, cache }) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `treespec-${attention}-tiny-`));
    await bundleWithTarget(dir, { attention });
  }, 120_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reproduces the PyTorch logits at the recorded positions within 1e-3', async () => {
    const entry = targetEntry(dir);
    expect(entry.attention).toBe(attention);
    const runner = new OnnxCausalLm(await createSession(join(dir, entry.file)), causalLmLayout(entry));
    expect(runner.cache).toBeInstanceOf(cache);
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
    let converted: TextGenerator | null = null;
    const plainTarget = await loadTreespec(TINY);
    try {
      converted = await loadTreespec(dir, { drafters });
      for (const { prompt } of devPrompts(3)) {
        const reference = await plainTarget.generate(prompt, { maxTokens: 40, plain: true });
        const plain = await converted.generate(prompt, { maxTokens: 40, plain: true });
        expect(Array.from(plain.tokens)).toEqual(Array.from(reference.tokens));
        for (const drafter of drafters) {
          const r = await converted.generate(prompt, { maxTokens: 40, drafter });
          expect(Array.from(r.tokens), drafter).toEqual(Array.from(reference.tokens));
        }
      }
    } finally {
      await converted?.dispose();
      await plainTarget.dispose();
    }
  }, 240_000);
});
