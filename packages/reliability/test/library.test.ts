import { loadTreespec } from '@treespec/node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { LIBRARY_CASES, type LibraryContext } from '../src/cases/library-cases.js';
import { TINY } from '../src/fault-bundle.js';
import { expectOutcome, expectReference, REFERENCE_PROMPT } from './support.js';

const drafters = ['draft-lm', 'hybrid', 'suffix', 'lookup'] as const;
let context: LibraryContext;
let reference8: string;
beforeAll(async () => {
  // EAGLE-2 by default, as the cases name it (on a CPU the planner's default is the hybrid).
  const generator = await loadTreespec(TINY, { drafter: 'eagle2', drafters });
  const small = await loadTreespec(TINY, { drafter: 'eagle2', drafters, maxContext: 40 });
  const reference = await generator.generate(REFERENCE_PROMPT, { maxTokens: 24, plain: true });
  reference8 = (await generator.generate(REFERENCE_PROMPT, { maxTokens: 8 })).text;
  context = { generator, small, prompt: REFERENCE_PROMPT, reference };
});
afterAll(async () => {
  await context.generator.dispose();
  await context.small.dispose();
});

describe('library misuse, aborts, queueing and disposal', () => {
  for (const c of LIBRARY_CASES) {
    it(`${c.id}: ${c.fault}`, async () => {
      await expectOutcome(c, context);
      await expectReference(context.generator, reference8);
    }, 30_000);
  }
});
