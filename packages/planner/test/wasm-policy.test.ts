import type { TextGenerator } from '@treespec/generator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

/** Greedy generations of `prompts`: tokens per modelled WASM time, against plain decoding's one token per plain call. */
async function wasmSpeedup(
  generator: TextGenerator,
  drafter: string,
  prompts: readonly string[],
): Promise<{ speedup: number; tau: number }> {
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
}

describe('the wasm policy (the tiny bundle through onnxruntime-node, verification priced as on WASM)', () => {
  let wasm: TextGenerator;
  let cpu: TextGenerator;
  let prompts: string[];
  beforeAll(async () => {
    const manifest = await tinyManifest();
    const tokenizer = await tinyTokenizer();
    wasm = await assemble(plan(manifest, {}, 'wasm'), openTinySession, tokenizer);
    // Under a fixed budget the lookup drafter verifies its own whole trees every step; under `auto`
    // it would cut them at this process's CPU prices, which say nothing of WASM's.
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
    expect(wasm.drafter?.maxTreeSize).toBe(2);
  });

  it('is faster than plain decoding at WASM row costs, where the lookup drafter’s own 16-token trees are slower', async () => {
    const chain = await wasmSpeedup(wasm, 'lookup', prompts);
    const trees = await wasmSpeedup(cpu, 'lookup', prompts);
    // The wide trees are accepted further, but each row beyond the second costs WASM about 0.3–0.6
    // of a plain token: a step without a match is a plain step, one with a match a row more.
    expect(trees.tau).toBeGreaterThan(chain.tau);
    expect(chain.tau).toBeGreaterThan(1.2);
    expect(chain.speedup).toBeGreaterThan(1.1);
    expect(trees.speedup).toBeLessThan(1);
    expect(chain.speedup).toBeGreaterThan(trees.speedup);
  }, 120_000);
});
