import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runProgram } from '../src/index.js';

describe('treespec --version', () => {
  it('prints the version of @treespec/cli and exits 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-v']) {
      let out = '';
      const code = await runProgram(['node', 'treespec', flag], { out: (t) => (out += t), err: () => {} });
      expect({ code, out }).toEqual({ code: 0, out: `${version}\n` });
    }
  });
});
