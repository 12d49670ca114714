import { PricedModelFreeDrafter } from '@treespec/drafters';
import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { assemble, MODEL_FREE_BUDGETS, plan } from '../src/index.js';
import { devPrompts, openTinySession, tinyManifest, tinyTokenizer } from './tiny.js';

/**
 * What verifying a tree of `n` nodes (root included) costs WASM, in plain tokens: onnxruntime-web's
 * WASM build, the tiny target after 100 cached tokens, minimum of 40 calls
 * (docs/benchmarks.md "Where the WASM step's time goes"), linear between the sizes measured and
 * beyond the largest.
 */
const WASM_ROWS: ReadonlyArray<readonly [number, number]> = [
  [1, 1],
  [2, 1.03],
  [3, 1.39],
  [4, 1.93],
  [8, 2.8],
  [16, 5.27],
];

function wasmVerifyCost(n: number): number {
  for (let i = 1; i < WASM_ROWS.length; i++) {
    const [n1, c1] = WASM_ROWS[i];
    if (n <= n1 || i === WASM_ROWS.length - 1) {
      const [n0, c0] = WASM_ROWS[i - 1];
      return c0 + ((c1 - c0) * (n - n0)) / (n1 - n0);
    }
  }
  return 1;
}

/**
 * Greedy generations of `prompts`: tokens per modelled WASM time, against plain decoding's one
 * token per plain call. The clock that drafters read (`performance.now`) advances by each
 * verification's WASM cost (10 ms a plain call) inside the target's call, so a priced drafter
 * learns WASM's prices rather than this process's.
 */
async function wasmSpeedup(
  generator: TextGenerator,
  drafter: string,
  prompts: readonly string[],
): Promise<{ speedup: number; tau: number }> {
  let clock = 0;
  const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
  const target = generator.target;
  const inner = target.verify.bind(target);
  const verify = vi.spyOn(target, 'verify').mockImplementation((tree, options) => {
    clock += 10 * wasmVerifyCost(tree.size);
    return inner(tree, options);
  });
  try {
    let tokens = 0;
    let steps = 0;
    let cost = 0;
    for (const prompt of prompts) {
      const plain = await generator.generate(prompt, { maxTokens: 64, plain: true });
      const result = await generator.generate(prompt, {
        maxTokens: 64,
        drafter,
        onStep: (event) => {
          cost += wasmVerifyCost(event.tree.size);
        },
      });
      expect(Array.from(result.tokens), drafter).toEqual(Array.from(plain.tokens));
      tokens += result.tokens.length;
      steps += result.stats.steps;
    }
    return { speedup: tokens / cost, tau: tokens / steps };
  } finally {
    verify.mockRestore();
    now.mockRestore();
  }
}

describe('the wasm policy (the tiny bundle through onnxruntime-node, verification priced as on WASM)', () => {
  let wasm: TextGenerator;
  let cpu: TextGenerator;
  let prompts: string[];
  beforeAll(async () => {
    const manifest = await tinyManifest();
    const tokenizer = await tinyTokenizer();
    wasm = await assemble(plan(manifest, {}, 'wasm'), openTinySession, tokenizer);
    // Under a fixed budget the lookup drafter verifies its own whole trees every step.
    cpu = await assemble(
      plan(manifest, { drafter: 'lookup', budget: 'fixed' }, 'cpu'),
      openTinySession,
      tokenizer,
    );
    prompts = await devPrompts(10);
  });
  afterAll(async () => {
    await wasm?.dispose();
    await cpu?.dispose();
  });

  it('drafts with the model-free lookup drafter by default on wasm, loading no head, and keeps EAGLE-2 by name', async () => {
    const manifest = await tinyManifest();
    const planned = plan(manifest, {}, 'wasm');
    expect(planned.defaultDrafter).toBe('lookup');
    expect(planned.models.map((m) => m.id)).toEqual(['target']);
    expect(planned.choices.modelFree).toEqual(MODEL_FREE_BUDGETS.wasm);
    expect(plan(manifest, { drafter: 'eagle2' }, 'wasm').defaultDrafter).toBe('eagle2');
    expect(plan(manifest, {}, 'cpu').defaultDrafter).toBe('hybrid');
    expect(plan(manifest, {}, 'webgpu').defaultDrafter).toBe('eagle2');
    expect(wasm.drafter?.name).toBe('lookup');
    expect(wasm.drafter).toBeInstanceOf(PricedModelFreeDrafter);
    expect(wasm.drafter?.maxTreeSize).toBe(5);
  });

  it('is faster than plain decoding at WASM row costs, cut to what pays there, where the lookup drafter’s own 16-token trees are slower', async () => {
    const chains = await wasmSpeedup(wasm, 'lookup', prompts);
    const trees = await wasmSpeedup(cpu, 'lookup', prompts);
    // The wide trees are accepted further, but each row beyond the second costs WASM about 0.3–0.6
    // of a plain token; the priced chains of up to 4 tokens are cut to the rows that pay there.
    // Measured: 1.35× (tau 1.56) against the whole trees' 0.73× (tau 1.90).
    expect(trees.tau).toBeGreaterThan(chains.tau);
    expect(chains.tau).toBeGreaterThan(1.2);
    expect(chains.speedup).toBeGreaterThan(1.1);
    expect(trees.speedup).toBeLessThan(1);
    expect(chains.speedup).toBeGreaterThan(trees.speedup);
  }, 120_000);
});
