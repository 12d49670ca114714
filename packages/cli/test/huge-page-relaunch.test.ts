import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { HUGE_PAGE_TUNABLE, HUGE_PAGES_VARIABLE, hugePageEnvironment, hugePageFacts } from '@treespec/node';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

describe('the treespec command on transparent huge pages', () => {
  it('runs the command in a child that has the tunable and huge pages, passing on its output, exit code and SIGTERM', async (context) => {
    const env = { ...process.env };
    delete env['GLIBC_TUNABLES'];
    delete env[HUGE_PAGES_VARIABLE];
    if (hugePageEnvironment({ ...hugePageFacts(), env }) === null) {
      console.warn('Skipping: no relaunch here (not Linux with glibc >= 2.35 and THP in madvise mode).');
      context.skip();
    }
    const bad = spawnSync(process.execPath, [BIN, 'no-such-command'], { env, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/unknown command 'no-such-command'/);

    const parent = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      parent.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        if (/serving "/.test(err)) resolve();
      });
      parent.once('exit', (code) => reject(new Error(`treespec serve exited with ${code}: ${err}`)));
    });
    try {
      const children = await readFile(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8');
      const child = Number(children.trim().split(/\s+/)[0]);
      const environ = (await readFile(`/proc/${child}/environ`, 'utf8')).split('\0');
      expect(environ).toContain(`GLIBC_TUNABLES=${HUGE_PAGE_TUNABLE}`);
      // The loaded model's memory is partly on huge pages.
      const rollup = await readFile(`/proc/${child}/smaps_rollup`, 'utf8');
      expect(Number(/AnonHugePages:\s+(\d+) kB/.exec(rollup)?.[1])).toBeGreaterThan(0);
    } finally {
      parent.kill('SIGTERM');
    }
    const [code] = await once(parent, 'exit');
    expect(code).toBe(0);
    expect(err).toMatch(/SIGTERM: finishing the running request, then stopping/);
  }, 60_000);
});
