import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/** Where Linux describes its CPUs. */
export const LINUX_CPU_ROOT = '/sys/devices/system/cpu';

/**
 * The physical cores of the online CPUs that Linux lists under `root` (one per distinct package
 * and core id, so two hyperthreads of a core count once), at most `usable` (the CPUs this process
 * may run on); undefined where the listing cannot be read (another OS, a container without
 * `/sys`).
 */
export function physicalCoreCount(
  root: string = LINUX_CPU_ROOT,
  usable: number = availableParallelism(),
): number | undefined {
  try {
    const cores = new Set<string>();
    for (const cpu of cpuList(readFileSync(join(root, 'online'), 'utf8'))) {
      const topology = join(root, `cpu${cpu}`, 'topology');
      const pkg = readFileSync(join(topology, 'physical_package_id'), 'utf8').trim();
      const core = readFileSync(join(topology, 'core_id'), 'utf8').trim();
      cores.add(`${pkg}:${core}`);
    }
    return cores.size > 0 ? Math.min(cores.size, usable) : undefined;
  } catch {
    return undefined;
  }
}

/** The CPU numbers of a Linux CPU list (`0-3,8,10-11`). */
export function cpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    if (!Number.isInteger(from) || !Number.isInteger(to) || to < from)
      throw new Error(`not a CPU list: ${JSON.stringify(text)}`);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The target's intra-op threads: `named`, else {@link defaultTargetThreads}; undefined leaves ONNX Runtime's choice. */
export function targetThreads(named: number | undefined): number | undefined {
  return named ?? defaultTargetThreads();
}

/** This machine's {@link physicalCoreCount}, read once; null until read. */
let linuxCores: number | undefined | null = null;

/**
 * The target's intra-op threads when the caller names none: on Linux the physical cores this
 * process may use, named explicitly because ONNX Runtime pins its threads to cores when it picks
 * the count itself, and pinned threads share those cores badly with the Node process's own
 * threads and, between target calls, the drafter's calls (docs/benchmarks.md, "Threads named
 * or chosen by ONNX Runtime"). Elsewhere undefined: ONNX Runtime's own choice.
 */
export function defaultTargetThreads(platform: NodeJS.Platform = process.platform): number | undefined {
  if (platform !== 'linux') return undefined;
  if (linuxCores === null) linuxCores = physicalCoreCount();
  return linuxCores;
}
