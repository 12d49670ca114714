import { SpeculativeDecoder, type TargetCallOptions } from '@treespec/core';
import { Clock, ClockedTarget } from '@treespec/core/testing';
import { BudgetController, type ModelTreeDrafter } from '@treespec/drafters';
import { GreedyVerifier, StochasticVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

describe('runs of plain steps far from paying, on the real tiny model', () => {
  it('skip the target features their probes never read, and decode what plain decoding does, greedy and seeded', async () => {
    const generator = await loadTreespec(TINY, { drafters: ['eagle2'], tuningCache: false });
    try {
      const drafter = (generator.drafters.eagle2 as BudgetController).inner as ModelTreeDrafter;
      // A clock its verifications advance as a CPU where a tree node costs more than it gains
      // (10 ms a plain step, 13 ms each further node): the controller decodes plainly in runs that
      // double up to 64 steps, probing at their ends. Its trees are chosen among candidate sizes:
      // sized by value, a tree keeps no node here and costs a plain step (drafting is free on this
      // clock), so its runs of plain steps are never far from paying.
      const clock = new Clock();
      const target = new ClockedTarget(generator.target, clock, { verify: (n) => 10 + 13 * (n - 1) });
      const asked: boolean[] = [];
      const verify = target.verify.bind(target);
      target.verify = (tree, options?: TargetCallOptions) => {
        asked.push(options?.features === true);
        return verify(tree, options);
      };
      const controller = new BudgetController(
        { drafter, growth: drafter.growth },
        {
          clock: clock.read,
          probeCatchUp: 6,
          probeEvery: 4,
          maxPlainRun: 64,
          probeShare: 1,
          valueTrees: false,
        },
      );
      let plainSteps = 0;
      /** Drafted steps and their accepted tokens, greedy and seeded. */
      const drafted: [number, number] = [0, 0];
      const accepted: [number, number] = [0, 0];
      const cases = targetCases().slice(0, 2);
      for (const sampling of [null, { temperature: 1, seed: 3 }]) {
        for (const { prompt_ids } of cases) {
          const verifier = () =>
            sampling
              ? new StochasticVerifier({ temperature: sampling.temperature, seed: sampling.seed })
              : new GreedyVerifier();
          const plain = await new SpeculativeDecoder({ target, verifier: verifier() }).generate(prompt_ids, {
            maxTokens: 400,
          });
          asked.length = 0;
          const r = await new SpeculativeDecoder({
            target,
            drafter: controller,
            verifier: verifier(),
          }).generate(prompt_ids, {
            maxTokens: 400,
            onStep: ({ tree, pathLength }) => {
              if (tree.size === 1) {
                plainSteps++;
                return;
              }
              const kind = sampling ? 1 : 0;
              drafted[kind]++;
              accepted[kind] += pathLength - 1;
            },
          });
          expect(Array.from(r.tokens)).toEqual(Array.from(plain.tokens));
          expect(asked.filter((a) => !a).length).toBeGreaterThan(r.stats.steps / 4);
        }
      }
      expect(plainSteps).toBeGreaterThan(drafted[0] + drafted[1]);
      // Probes after skipped features still draft from the right rows: tokens get accepted (the
      // same trees and tokens as with every feature fetched: 16 tokens in 25 greedy trees, 3 in 22
      // seeded ones at temperature 1).
      expect(accepted[0] / drafted[0]).toBeGreaterThan(0.5);
      expect(accepted[1]).toBeGreaterThan(0);
    } finally {
      await generator.dispose();
    }
  }, 180_000);
});
