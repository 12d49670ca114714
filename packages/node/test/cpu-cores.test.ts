import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuList, defaultTargetThreads, LINUX_CPU_ROOT, physicalCoreCount } from '../src/cpu-cores.js';
import { sessionThreads } from '../src/session.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fake `/sys/devices/system/cpu`: `online`, and each CPU's package and core id. */
function cpuRoot(online: string, topology: Record<number, [pkg: number, core: number]>): string {
  const root = mkdtempSync(join(tmpdir(), 'cpu-root-'));
  made.push(root);
  writeFileSync(join(root, 'online'), `${online}\n`);
  for (const [cpu, [pkg, core]] of Object.entries(topology)) {
    const dir = join(root, `cpu${cpu}`, 'topology');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'physical_package_id'), `${pkg}\n`);
    writeFileSync(join(dir, 'core_id'), `${core}\n`);
  }
  return root;
}

describe('physical cores', () => {
  it('reads Linux CPU lists', () => {
    expect(cpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(cpuList('0')).toEqual([0]);
    expect(() => cpuList('3-1')).toThrow(/not a CPU list/);
  });

  it('counts two hyperthreads of a core once, and cores of two packages apart', () => {
    const smt = cpuRoot('0-3', { 0: [0, 0], 1: [0, 1], 2: [0, 0], 3: [0, 1] });
    expect(physicalCoreCount(smt, 64)).toBe(2);
    const twoPackages = cpuRoot('0-3', { 0: [0, 0], 1: [0, 1], 2: [1, 0], 3: [1, 1] });
    expect(physicalCoreCount(twoPackages, 64)).toBe(4);
  });

  it('counts only online CPUs, and no more than the process may use', () => {
    const root = cpuRoot('0,2', { 0: [0, 0], 1: [0, 1], 2: [0, 2], 3: [0, 3] });
    expect(physicalCoreCount(root, 64)).toBe(2);
    expect(physicalCoreCount(root, 1)).toBe(1);
  });

  it('gives undefined where the listing cannot be read', () => {
    expect(physicalCoreCount(join(tmpdir(), 'no-such-cpu-root'), 8)).toBeUndefined();
    const partial = cpuRoot('0-1', { 0: [0, 0] });
    expect(physicalCoreCount(partial, 8)).toBeUndefined();
  });

  it("names the target's threads on Linux only, from this machine's listing", () => {
    expect(defaultTargetThreads('darwin')).toBeUndefined();
    expect(defaultTargetThreads('win32')).toBeUndefined();
    const listed = existsSync(join(LINUX_CPU_ROOT, 'online'));
    const threads = defaultTargetThreads('linux');
    if (process.platform === 'linux' && listed) {
      expect(threads).toBe(physicalCoreCount());
      expect(threads).toBeGreaterThanOrEqual(1);
      expect(threads).toBeLessThanOrEqual(availableParallelism());
    }
  });

  it('gives the target that default unless threads are named, and drafters one thread', () => {
    const threads = defaultTargetThreads();
    expect(sessionThreads({}, 'target')).toEqual(threads === undefined ? {} : { intraOpNumThreads: threads });
    expect(sessionThreads({ intraOpNumThreads: 3 }, 'target')).toEqual({ intraOpNumThreads: 3 });
    expect(sessionThreads({}, 'drafter')).toEqual({ intraOpNumThreads: 1 });
    expect(sessionThreads({ drafterThreads: 2, intraOpNumThreads: 3 }, 'drafter')).toEqual({
      intraOpNumThreads: 2,
    });
  });
});
