import { describe, expect, it } from 'vitest';
import { PROCESS_CASES } from '../src/cases/process-cases.js';

describe('faults only a real process shows', () => {
  for (const c of PROCESS_CASES) {
    it(`${c.id}: ${c.fault}`, async () => {
      const run = await c.run();
      expect(run.err).toMatch(c.expect.err);
      expect(run.code).toBe(c.expect.code);
      if (c.expect.out) expect(run.out).toMatch(c.expect.out);
    }, 60_000);
  }
});
