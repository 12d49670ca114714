import type { TextGenerator } from '@treespec/generator';
import { loadTreespec } from '@treespec/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_CASES, caseFolder } from '../src/cases/cli-cases.js';
import { treespec } from '../src/cli-case.js';
import { removeFaultBundles, TINY } from '../src/fault-bundle.js';
import { removeFaultCheckpoints } from '../src/fault-checkpoint.js';
import { expectReference, REFERENCE_PROMPT } from './support.js';

let generator: TextGenerator;
let reference: string;
beforeAll(async () => {
  generator = await loadTreespec(TINY);
  reference = (await generator.generate(REFERENCE_PROMPT, { maxTokens: 8 })).text;
});
afterAll(async () => {
  await generator.dispose();
  removeFaultCheckpoints();
  removeFaultBundles();
});

describe('command-line misuse and faulty checkpoints', () => {
  for (const c of CLI_CASES) {
    it(`${c.id}: ${c.fault}`, async () => {
      const paths = { dir: caseFolder() };
      const run = await treespec(...c.args(paths));
      expect(run.err).toMatch(c.expect.err);
      expect(run.code).toBe(c.expect.code);
      if (c.expect.out) expect(run.out).toMatch(c.expect.out);
      expect(run.err, 'no stack trace for user error').not.toMatch(/\n\s+at /);
      c.after?.(paths);
      await expectReference(generator, reference);
    }, 30_000);
  }
});
