import { TreespecError } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { expect } from 'vitest';
import type { FaultCase } from '../src/fault-case.js';

/** The prompt every suite's generator must keep continuing the same way. */
export const REFERENCE_PROMPT = 'The history of the city begins in';

/** Runs a case and asserts its outcome: a TreespecError of the named class and message, or a clean result. */
export async function expectOutcome<C>(c: FaultCase<C>, context: C): Promise<void> {
  const settled = await c.run(context).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (c.outcome.kind === 'error') {
    if (settled.ok) throw new Error(`${c.id}: expected ${c.outcome.error.name}, got a result`);
    const error = settled.error as Error;
    expect(error, `${c.id}: ${error?.stack}`).toBeInstanceOf(c.outcome.error);
    expect(error).toBeInstanceOf(TreespecError);
    expect(error.message).toMatch(c.outcome.message);
  } else {
    if (!settled.ok) throw settled.error;
    await c.check?.(settled.value, context);
  }
}

/** Asserts that `generator` still continues the reference prompt with `reference`. */
export async function expectReference(generator: TextGenerator, reference: string): Promise<void> {
  const r = await generator.generate(REFERENCE_PROMPT, { maxTokens: 8 });
  expect(r.text).toBe(reference);
}
