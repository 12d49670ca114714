import { describe, expect, it } from 'vitest';
import { runProgram } from '../src/index.js';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(['node', 'treespec', ...args], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

describe('treespec generate at the end of the context', () => {
  for (const drafter of ['eagle2', 'draft-lm']) {
    it(`prints the --json result with finish reason "context" (${drafter})`, async () => {
      const r = await run(
        'generate',
        'The history of the city begins in',
        '--max-context',
        '48',
        '--max-tokens',
        '1000',
        '-d',
        drafter,
        '--json',
      );
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const json = JSON.parse(r.out);
      expect(json.finishReason).toBe('context');
      expect(json.stats.promptTokens + json.stats.generatedTokens).toBe(49);
    }, 60_000);
  }
});
