import type { TextGenerator } from '@treespec/generator';
import { loadTreespec } from '@treespec/node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BUNDLE_CASES, type BundleContext } from '../src/cases/bundle-cases.js';
import { removeFaultBundles, TINY } from '../src/fault-bundle.js';
import { expectOutcome, expectReference, REFERENCE_PROMPT } from './support.js';

let generator: TextGenerator;
let context: BundleContext;
beforeAll(async () => {
  generator = await loadTreespec(TINY);
  const reference = (await generator.generate(REFERENCE_PROMPT, { maxTokens: 8 })).text;
  context = { prompt: REFERENCE_PROMPT, reference };
});
afterAll(async () => {
  await generator.dispose();
  removeFaultBundles();
});

describe('hostile, corrupt and mismatched bundles', () => {
  for (const c of BUNDLE_CASES) {
    it(`${c.id}: ${c.fault}`, async () => {
      await expectOutcome(c, context);
      await expectReference(generator, context.reference);
    }, 30_000);
  }
});
