import { SpeculativeDecoder } from '@treespec/core';
import { Clock, ClockedTarget } from '@treespec/core/testing';
import { LookupDrafter, PricedModelFreeDrafter } from '@treespec/drafters';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it, vi } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from './tiny.js';

describe('lookup on its own, priced, on the real tiny model', () => {
  it('decodes plainly where each verified row costs most of a plain step, token for token as plain decoding', async () => {
    const generator = await loadTreespec(TINY, { drafter: 'lookup', tuningCache: false, warmUp: false });
    const clock = new Clock();
    const spy = vi.spyOn(performance, 'now').mockImplementation(clock.read);
    try {
      expect(generator.drafter).toBeInstanceOf(PricedModelFreeDrafter);
      // Rows priced as WebAssembly's third and later ones (docs/benchmarks.md): a lookup token
      // pays only where it is accepted more than 80 % of the time.
      const target = new ClockedTarget(generator.target, clock, { verify: (n) => 10 + 8 * (n - 1) });
      const plain = new SpeculativeDecoder({ target: generator.target, verifier: new GreedyVerifier() });
      const prompts = devPrompts(4).map(({ prompt }) => generator.tokenizer.encode(prompt));
      const msPerToken = async (drafter: LookupDrafter | PricedModelFreeDrafter) => {
        const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
        let tokens = 0;
        const started = clock.now;
        for (const ids of prompts) {
          const result = await decoder.generate(ids, { maxTokens: 48 });
          const reference = await plain.generate(ids, { maxTokens: 48 });
          expect(Array.from(result.tokens)).toEqual(Array.from(reference.tokens));
          tokens += result.tokens.length;
        }
        return (clock.now - started) / tokens;
      };
      const whole = await msPerToken(new LookupDrafter());
      const priced = await msPerToken(new PricedModelFreeDrafter(new LookupDrafter()));
      // Measured: 30.4 ms a token with its whole trees, 9.9 priced, against 10 for plain decoding.
      expect(whole).toBeGreaterThan(15);
      expect(priced).toBeLessThan(10.5);
    } finally {
      spy.mockRestore();
      await generator.dispose();
    }
  }, 120_000);
});
