import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * glibc's malloc tunable (glibc ≥ 2.35) that asks the kernel for transparent huge pages for the
 * memory malloc maps. ONNX Runtime keeps the prepacked weights there, and a decoding step streams
 * all of them: with 4 KiB pages every step walks the page tables tens of thousands of times. On the
 * reference machine (THP in `madvise` mode) a plain fp32 token of the tiny target took 22 % less
 * time with it, an int8 one 15 % less (docs/benchmarks.md, "Huge pages"). The tunable only acts
 * when set at process start: see {@link relaunchWithHugePages}.
 */
export const HUGE_PAGE_TUNABLE = 'glibc.malloc.hugetlb=1';

/** Set to `0` to keep {@link relaunchWithHugePages} (and the `treespec` command) from relaunching. */
export const HUGE_PAGES_VARIABLE = 'TREESPEC_HUGE_PAGES';

/** What decides whether a process relaunches itself with huge pages. */
export interface HugePageFacts {
  readonly platform: NodeJS.Platform;
  readonly env: NodeJS.ProcessEnv;
  /**
   * glibc's version at run time (`2.36`); undefined where the C library is another, and where the
   * THP mode leaves nothing for it to decide (not `madvise`).
   */
  readonly glibc: string | undefined;
  /** The kernel's transparent huge page mode (`always`, `madvise`, `never`), null if unknown. */
  readonly thpMode: string | null;
}

/**
 * The facts of this process. glibc's version comes from a diagnostic report (a few milliseconds),
 * so it is read only where the THP mode is `madvise`, the one mode in which it matters.
 */
export function hugePageFacts(): HugePageFacts {
  const thpMode = process.platform === 'linux' ? transparentHugePageMode() : null;
  const report =
    thpMode === 'madvise'
      ? (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
      : undefined;
  return {
    platform: process.platform,
    env: process.env,
    glibc: report?.header?.glibcVersionRuntime,
    thpMode,
  };
}

/**
 * The environment to relaunch with, or null when a relaunch would change nothing: not Linux, a
 * glibc before 2.35 or another C library, THP `always` (malloc's memory gets huge pages already)
 * or `never` (it cannot), the tunable already set, or {@link HUGE_PAGES_VARIABLE} `0`.
 */
export function hugePageEnvironment(facts: HugePageFacts): NodeJS.ProcessEnv | null {
  if (facts.platform !== 'linux' || facts.env[HUGE_PAGES_VARIABLE] === '0') return null;
  if (facts.thpMode !== 'madvise' || !atLeast(facts.glibc, 2, 35)) return null;
  const tunables = facts.env['GLIBC_TUNABLES'] ?? '';
  if (tunables.includes('glibc.malloc.hugetlb')) return null;
  return { ...facts.env, GLIBC_TUNABLES: tunables ? `${tunables}:${HUGE_PAGE_TUNABLE}` : HUGE_PAGE_TUNABLE };
}

/** Whether malloc's memory in a process with these facts gets transparent huge pages. */
export function hugePagesInUse(facts: HugePageFacts): boolean {
  if (facts.platform !== 'linux' || facts.thpMode === 'never' || facts.thpMode === null) return false;
  if (facts.thpMode === 'always') return true;
  return atLeast(facts.glibc, 2, 35) && /glibc\.malloc\.hugetlb=[12]/.test(facts.env['GLIBC_TUNABLES'] ?? '');
}

/**
 * Makes ONNX Runtime's weights sit on transparent huge pages by running this same script again
 * in a child process with {@link HUGE_PAGE_TUNABLE}, where that changes anything
 * ({@link hugePageEnvironment}), and resolves with the child's exit code; resolves null when the
 * script should simply go on here (nothing to gain, already relaunched, or turned off with
 * {@link HUGE_PAGES_VARIABLE} `0`). Call it first thing in an app's entry script, before loading
 * a model:
 *
 * ```ts
 * const code = await relaunchWithHugePages();
 * if (code !== null) process.exit(code);
 * const generator = await loadTreespec(dir);
 * ```
 *
 * SIGTERM and SIGHUP sent to this process are passed on to the child, and so is SIGINT, except
 * where this process is in its terminal's foreground process group: a Ctrl-C there reaches the
 * child from the terminal already, and passing it on would deliver it twice. So a supervisor's
 * `kill -INT`, `child.kill('SIGINT')` or `timeout -s INT` stops the child as a Ctrl-C does. A
 * child killed by a signal ends this process with the same signal.
 */
export async function relaunchWithHugePages(facts: HugePageFacts = hugePageFacts()): Promise<number | null> {
  const env = hugePageEnvironment(facts);
  if (!env) return null;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env,
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const interrupt = () => {
    if (!inTerminalForeground(processStat())) child.kill('SIGINT');
  };
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  process.on('SIGINT', interrupt);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      process.off('SIGHUP', forward);
      process.off('SIGINT', interrupt);
      if (signal) process.kill(process.pid, signal);
      resolve(code ?? 1);
    });
  });
}

/**
 * Whether the process whose `/proc/<pid>/stat` line this is sits in its controlling terminal's
 * foreground process group, where a terminal's Ctrl-C signals every process of the group: its
 * terminal (`tty_nr`) is set and the terminal's foreground group (`tpgid`) is its own (`pgrp`).
 * False for a process without a terminal, in a background group, or where the line is unreadable.
 */
export function inTerminalForeground(stat: string | null): boolean {
  // The command name, in parentheses, may hold spaces and parentheses: fields follow the last ')'.
  const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (!fields || fields.length < 6) return false;
  const [processGroup, terminal, foregroundGroup] = [Number(fields[2]), Number(fields[4]), Number(fields[5])];
  return terminal !== 0 && foregroundGroup > 0 && foregroundGroup === processGroup;
}

function processStat(): string | null {
  try {
    return readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return null;
  }
}

function transparentHugePageMode(): string | null {
  try {
    const text = readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
    return /\[(\w+)\]/.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

function atLeast(version: string | undefined, major: number, minor: number): boolean {
  const match = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!match) return false;
  const [have, haveMinor] = [Number(match[1]), Number(match[2])];
  return have > major || (have === major && haveMinor >= minor);
}
