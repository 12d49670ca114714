import { type DraftModelStep, SpeculativeDecoder } from '@treespec/core';
import { Clock, ClockedTarget } from '@treespec/core/testing';
import { BudgetController, ModelTreeDrafter } from '@treespec/drafters';
import { GreedyVerifier } from '@treespec/sampling';
import { describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

const WINDOW = 6;

describe('probes caught up within a bound, on the real tiny model', () => {
  for (const name of ['eagle2', 'draft-lm'] as const) {
    it(`${name}: output stays plain decoding's, each probe feeds the model at most the newest rows`, async () => {
      const generator = await loadTreespec(TINY, { drafters: [name], tuningCache: false });
      try {
        const inner = (generator.drafters[name] as BudgetController).inner;
        expect(inner).toBeInstanceOf(ModelTreeDrafter);
        const drafter = inner as ModelTreeDrafter;
        const commits: number[] = [];
        const model = drafter.model;
        const commit = model.commit.bind(model);
        model.commit = (tokens, features, rows, k): Promise<DraftModelStep> => {
          commits.push(rows);
          return commit(tokens, features, rows, k);
        };
        // A clock its verifications advance as a CPU where a tree node costs more than it gains
        // would (10 ms a plain step, 11 ms each further node): the controller decodes plainly and
        // probes now and then.
        const clock = new Clock();
        const target = new ClockedTarget(generator.target, clock, { verify: (n) => 10 + 11 * (n - 1) });
        const controller = new BudgetController(
          { drafter, growth: drafter.growth },
          { clock: clock.read, probeCatchUp: WINDOW, probeEvery: 4, maxPlainRun: 16, probeShare: 1 },
        );
        let drafted = 0;
        let accepted = 0;
        for (const { prompt_ids } of targetCases().slice(0, 2)) {
          const plain = await new SpeculativeDecoder({ target, verifier: new GreedyVerifier() }).generate(
            prompt_ids,
            { maxTokens: 160 },
          );
          const decoder = new SpeculativeDecoder({
            target,
            drafter: controller,
            verifier: new GreedyVerifier(),
          });
          const r = await decoder.generate(prompt_ids, {
            maxTokens: 160,
            onStep: ({ tree, pathLength }) => {
              if (tree.size === 1) return;
              drafted++;
              accepted += pathLength - 1;
            },
          });
          expect(Array.from(r.tokens)).toEqual(Array.from(plain.tokens));
          expect(r.stats.controller?.plainSteps).toBeGreaterThan(r.stats.steps / 2);
        }
        // The first commit feeds the prompt (the start tree drafts at once); every later one a
        // step's tokens or, probing after runs of 16 plain steps or more, the newest WINDOW rows.
        expect(commits[0]).toBeGreaterThan(WINDOW);
        expect(Math.max(...commits.slice(1))).toBeLessThanOrEqual(WINDOW);
        expect(commits.filter((rows) => rows === WINDOW).length).toBeGreaterThan(2);
        // Drafts from a window of WINDOW rows still get tokens accepted.
        expect(accepted / drafted).toBeGreaterThan(0.5);
      } finally {
        await generator.dispose();
      }
    }, 120_000);
  }
});
