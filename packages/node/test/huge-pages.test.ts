import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  HUGE_PAGE_TUNABLE,
  HUGE_PAGES_VARIABLE,
  type HugePageFacts,
  hugePageEnvironment,
  hugePageFacts,
  hugePagesInUse,
  inTerminalForeground,
} from '../src/huge-pages.js';

const LINUX: HugePageFacts = { platform: 'linux', env: { PATH: '/bin' }, glibc: '2.36', thpMode: 'madvise' };

/** The environment of a process that relaunches itself here, or null (with a warning) where none would. */
function relaunchingEnvironment(): NodeJS.ProcessEnv | null {
  const env = { ...process.env };
  delete env['GLIBC_TUNABLES'];
  delete env[HUGE_PAGES_VARIABLE];
  if (hugePageEnvironment({ ...hugePageFacts(), env }) !== null) return env;
  console.warn('Skipping: no relaunch here (not Linux with glibc >= 2.35 and THP in madvise mode).');
  return null;
}

/** Runs `use` on an app entry script that relaunches itself with huge pages, then runs `body`. */
async function withRelaunchingApp(body: string, use: (script: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-huge-pages-'));
  try {
    const script = join(dir, 'app.mjs');
    const module = fileURLToPath(new URL('../dist/huge-pages.js', import.meta.url));
    await writeFile(
      script,
      `import { relaunchWithHugePages } from ${JSON.stringify(module)};\n` +
        'const code = await relaunchWithHugePages();\n' +
        `if (code !== null) process.exit(code);\n${body}`,
    );
    await use(script);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('running a process on transparent huge pages', () => {
  it('adds glibc’s huge-page tunable where malloc’s memory would otherwise get none', () => {
    expect(hugePageEnvironment(LINUX)).toEqual({ PATH: '/bin', GLIBC_TUNABLES: HUGE_PAGE_TUNABLE });
    const other = { ...LINUX, env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' } };
    expect(hugePageEnvironment(other)?.['GLIBC_TUNABLES']).toBe(
      `glibc.malloc.arena_max=2:${HUGE_PAGE_TUNABLE}`,
    );
  });

  it('does not relaunch where that would change nothing, or when told not to', () => {
    expect(hugePageEnvironment({ ...LINUX, platform: 'darwin' })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, glibc: undefined })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, glibc: '2.31' })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, thpMode: 'always' })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, thpMode: 'never' })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, thpMode: null })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' } })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, env: { [HUGE_PAGES_VARIABLE]: '0' } })).toBeNull();
    expect(hugePageEnvironment({ ...LINUX, glibc: '3.0' })).not.toBeNull();
  });

  it('tells whether a process gets huge pages, for the bench report', () => {
    expect(hugePagesInUse(LINUX)).toBe(false);
    expect(hugePagesInUse({ ...LINUX, env: { GLIBC_TUNABLES: HUGE_PAGE_TUNABLE } })).toBe(true);
    expect(hugePagesInUse({ ...LINUX, env: { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' } })).toBe(false);
    expect(hugePagesInUse({ ...LINUX, thpMode: 'always' })).toBe(true);
    expect(hugePagesInUse({ ...LINUX, thpMode: 'never', env: { GLIBC_TUNABLES: HUGE_PAGE_TUNABLE } })).toBe(
      false,
    );
    expect(hugePagesInUse({ ...LINUX, platform: 'darwin', thpMode: null })).toBe(false);
  });

  it('tells a process in its terminal’s foreground group, which a Ctrl-C reaches, from one a signal reaches alone', () => {
    // pid (comm) state ppid pgrp session tty_nr tpgid …
    expect(inTerminalForeground('4242 (node) S 4200 4242 4100 34816 4242 4194304 0')).toBe(true);
    expect(inTerminalForeground('4243 (my app) (x) S 4242 4242 4100 34816 4242 0')).toBe(true);
    expect(inTerminalForeground('4242 (node) S 4200 4242 4100 34816 4300 4194304 0')).toBe(false);
    expect(inTerminalForeground('4242 (node) S 1 4242 4242 0 -1 4194304 0')).toBe(false);
    expect(inTerminalForeground('garbage')).toBe(false);
    expect(inTerminalForeground(null)).toBe(false);
  });

  it('relaunches an app’s entry script in a child with the tunable, which runs the app and sets the exit code', async (context) => {
    const env = relaunchingEnvironment();
    if (env === null) return context.skip();
    await withRelaunchingApp(
      "process.stdout.write('app ran with ' + process.env.GLIBC_TUNABLES + '\\n');\n" +
        'process.exitCode = 3;\n',
      async (script) => {
        const run = spawnSync(process.execPath, [script], { env, encoding: 'utf8' });
        expect(run.stdout).toBe(`app ran with ${HUGE_PAGE_TUNABLE}\n`);
        expect(run.status).toBe(3);
        const off = spawnSync(process.execPath, [script], {
          env: { ...env, [HUGE_PAGES_VARIABLE]: '0' },
          encoding: 'utf8',
        });
        expect(off.stdout).toBe('app ran with undefined\n');
      },
    );
  });

  it('passes a SIGINT sent to it alone on to the child, which stops as on a Ctrl-C', async (context) => {
    const env = relaunchingEnvironment();
    if (env === null) return context.skip();
    await withRelaunchingApp(
      "process.on('SIGINT', () => { process.stdout.write('stopped on SIGINT\\n'); process.exit(5); });\n" +
        "process.stdout.write('ready\\n');\n" +
        'setInterval(() => {}, 1000);\n',
      async (script) => {
        // A session of its own: no terminal, as under a supervisor, whatever runs this test.
        const parent = spawn(process.execPath, [script], {
          env,
          detached: true,
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let stdout = '';
        const ready = new Promise<void>((resolve) => {
          parent.stdout.on('data', (chunk: Buffer) => {
            stdout += chunk.toString();
            if (stdout.includes('ready')) resolve();
          });
        });
        const exited = once(parent, 'exit');
        const guard = setTimeout(() => parent.kill('SIGKILL'), 20_000);
        try {
          await ready;
          process.kill(parent.pid!, 'SIGINT');
          const [code] = await exited;
          expect(stdout).toBe('ready\nstopped on SIGINT\n');
          expect(code).toBe(5);
        } finally {
          clearTimeout(guard);
        }
      },
    );
  }, 30_000);
});
