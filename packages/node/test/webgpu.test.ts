import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProviderUnavailableError } from '@treespec/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { bundleWithTarget } from './converted-target.js';
import { devPrompts, TINY } from './tiny.js';

/**
 * Greedy identity on onnxruntime-node's WebGPU provider. Without a GPU it runs on Mesa's software
 * Vulkan driver (lavapipe, Debian's mesa-vulkan-drivers 23 or later: Dawn rejects the 22.3 of
 * bookworm, which lacks dynamic indexing of image arrays; .ci/run installs it). Lavapipe takes
 * hundreds of milliseconds per target call, so the generations are short and the tree small.
 */
const TOKENS = 5;
const PROMPTS = 5;
/** A small tree, drafted whole every step (`budget: 'fixed'`), so that every step verifies drafts. */
const TREE = { topK: 3, depth: 2, totalTokens: 6 };

/** Why WebGPU cannot run here, or null when an adapter exists. */
let unavailable: string | null = null;
let fusedDir: string | null = null;

beforeAll(async () => {
  const probe = await createSession(join(TINY, 'eagle-head.onnx'), { executionProvider: 'webgpu' }).then(
    (s) => s.release().then(() => null),
    (e: unknown) => e,
  );
  if (probe instanceof ProviderUnavailableError) {
    const detail = String((probe.cause as Error)?.message ?? '');
    unavailable = `no WebGPU adapter here: ${(/Failed to .*/.exec(detail)?.[0] ?? probe.reason).trim()}`;
    return;
  }
  if (probe) throw probe;
  fusedDir = await mkdtemp(join(tmpdir(), 'treespec-webgpu-fused-'));
  await bundleWithTarget(fusedDir, { attention: 'fused' });
}, 120_000);
afterAll(async () => {
  if (fusedDir) await rm(fusedDir, { recursive: true, force: true });
});

/** Plain and EAGLE-2 greedy continuations of the first dev prompts on the WebGPU provider. */
async function speculativeEqualsPlain(dir: string): Promise<void> {
  const generator = await loadTreespec(dir, {
    executionProvider: 'webgpu',
    drafter: 'eagle2',
    budget: 'fixed',
    tree: TREE,
    maxContext: 192,
  });
  try {
    let accepted = 0;
    for (const { id, prompt } of devPrompts(PROMPTS)) {
      const plain = await generator.generate(prompt, { maxTokens: TOKENS, plain: true });
      const speculative = await generator.generate(prompt, { maxTokens: TOKENS });
      expect(plain.tokens.length, id).toBe(TOKENS);
      expect(Array.from(speculative.tokens), id).toEqual(Array.from(plain.tokens));
      speculative.stats.acceptedLengths.forEach((steps, k) => {
        accepted += k * steps;
      });
    }
    // The comparison means something only if drafts were verified and some accepted.
    expect(accepted).toBeGreaterThan(0);
  } finally {
    await generator.dispose();
  }
}

describe('the tiny target and EAGLE-2 head on the WebGPU provider', () => {
  it('give EAGLE-2 greedy output equal to plain decoding on 5 prompts, plain-op attention', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    await speculativeEqualsPlain(TINY);
  }, 300_000);

  it('give EAGLE-2 greedy output equal to plain decoding on 5 prompts, fused GroupQueryAttention', async (ctx) => {
    ctx.skip(unavailable !== null, unavailable ?? '');
    await speculativeEqualsPlain(fusedDir!);
  }, 300_000);
});
