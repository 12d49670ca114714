import { SpeculativeDecoder, type Verifier } from '@treespec/core';
import { checkedArgmax, GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { tinyTargetAfterPrompt } from './converted-target.js';
import { branchingTree } from './target-distribution.js';
import { TINY, targetCases } from './tiny.js';

/** A greedy verifier that reads the logits, as it does with penalties: the path the in-graph tokens replace. */
function logitsVerifier(): Verifier {
  const inner = new GreedyVerifier();
  return {
    name: inner.name,
    argmaxOnly: false,
    reset: () => inner.reset(),
    verify: (i, r) => inner.verify(i, r),
  };
}

describe("the tiny target's in-graph greedy tokens", () => {
  it("are each tree row's first largest logit, with a finite logit sum", async () => {
    const { runner, prompt } = await tinyTargetAfterPrompt();
    try {
      expect(runner.greedyTokens).toBe(true);
      const tree = branchingTree();
      const greedy = await runner.verify(tree, { greedy: true });
      const tokens = greedy.greedyTokens!.slice();
      const sums = greedy.logitSums!.slice();
      expect(greedy.logits.length).toBe(0);
      runner.reset();
      await runner.prefill(prompt);
      const { logits } = await runner.verify(tree);
      const vocab = runner.vocabSize;
      for (let row = 0; row < tree.size; row++) {
        expect(tokens[row]).toBe(checkedArgmax(logits, row * vocab, vocab, row));
        let sum = 0;
        for (let v = 0; v < vocab; v++) sum += logits[row * vocab + v]!;
        expect(Number.isFinite(sums[row])).toBe(true);
        expect(Math.abs(sums[row]! - sum)).toBeLessThan(1e-3 * Math.max(1, Math.abs(sum)));
      }
    } finally {
      await runner.dispose();
    }
  });

  it('give the same greedy generations as the logits, plainly and speculatively', async () => {
    const generator = await loadTreespec(TINY, { drafters: ['eagle2'], tuningCache: false, budget: 'fixed' });
    try {
      const { target } = generator;
      const drafter = generator.drafters.eagle2!;
      for (const { prompt_ids } of targetCases().slice(0, 3)) {
        const fromLogits = await new SpeculativeDecoder({ target, verifier: logitsVerifier() }).generate(
          prompt_ids,
          {
            maxTokens: 64,
          },
        );
        for (const d of [null, drafter]) {
          const fromTokens = await new SpeculativeDecoder({
            target,
            drafter: d,
            verifier: new GreedyVerifier(),
          }).generate(prompt_ids, { maxTokens: 64 });
          expect(Array.from(fromTokens.tokens)).toEqual(Array.from(fromLogits.tokens));
        }
      }
    } finally {
      await generator.dispose();
    }
  }, 60_000);
});
