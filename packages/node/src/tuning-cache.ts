import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, homedir, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { type ControllerSeed, OptionError } from '@treespec/core';
import { MODEL_DRAFTER_NAMES, type ModelDrafterName } from '@treespec/planner';
import { targetThreads } from './cpu-cores.js';

/** The model drafters a tuning cache keeps step costs for: every model drafter. */
export type TunedDrafter = ModelDrafterName;

/** Step costs stored for one model, provider and machine, by drafter. */
export type TunedSeeds = Partial<Record<TunedDrafter, ControllerSeed>>;

/** What a tuning cache entry belongs to. */
export interface TuningKey {
  /** SHA-256 of the bundle's manifest text: another conversion is another model. */
  manifestHash: string;
  /** Execution provider, e.g. `cpu`. */
  provider: string;
  /** The machine: CPU model and core count. */
  machine: string;
  /**
   * The target's intra-op threads ({@link targetThreads}); null where ONNX Runtime chose. Step
   * costs at another thread count are another machine's.
   */
  threads: number | null;
}

const FORMAT = 'treespec-tuning-cache';
const VERSION = 1;
/** Largest tree size or depth a stored entry may name; anything larger is not ours. */
const LARGEST_SIZE = 1 << 16;

/**
 * SHA-256 (hex) of a manifest, the model part of a {@link TuningKey}: of its JSON without the
 * `tuning` section, which `treespec tune --write` edits after it saved the step costs it measured
 * (they are still this bundle's), or of its text where it is not a JSON object.
 */
export function manifestHash(manifestText: string): string {
  return createHash('sha256').update(withoutTuning(manifestText)).digest('hex');
}

function withoutTuning(manifestText: string): string {
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestText);
  } catch {
    return manifestText;
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) return manifestText;
  const { tuning: _tuning, ...models } = manifest as Record<string, unknown>;
  return JSON.stringify(models);
}

/** This machine, as a {@link TuningKey} names it: CPU model and logical core count. */
export function machineName(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'unknown CPU'} x${list.length}`;
}

/**
 * The tuning cache file: `$XDG_CACHE_HOME/treespec/tuning.json`, else the OS cache directory
 * (`~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows, `~/.cache` elsewhere).
 */
export function defaultTuningCacheFile(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME ||
    (platform() === 'darwin'
      ? join(homedir(), 'Library', 'Caches')
      : platform() === 'win32'
        ? env.LOCALAPPDATA || join(homedir(), 'AppData', 'Local')
        : join(homedir(), '.cache'));
  return join(base, 'treespec', 'tuning.json');
}

function keyString(key: TuningKey): string {
  return `${key.manifestHash}|${key.provider}|${key.machine}|threads ${key.threads ?? 'auto'}`;
}

function isPairs(value: unknown): value is Array<[number, number]> {
  return (
    Array.isArray(value) &&
    value.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        Number.isInteger(p[0]) &&
        p[0] >= 1 &&
        p[0] <= LARGEST_SIZE &&
        typeof p[1] === 'number' &&
        Number.isFinite(p[1]) &&
        p[1] >= 0,
    )
  );
}

function isSeed(value: unknown): value is ControllerSeed {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const overhead = v.overheadMs;
  return (
    isPairs(v.verifyMs) &&
    isPairs(v.draftMs) &&
    (overhead === undefined || (typeof overhead === 'number' && Number.isFinite(overhead) && overhead >= 0))
  );
}

/** A cache file's entries: the seeds this treespec reads, and every entry as stored. */
interface ParsedCache {
  readonly entries: Record<string, TunedSeeds>;
  /** Each entry with the seeds of drafters this treespec does not know (a later one's), kept on writes. */
  readonly stored: Record<string, Record<string, unknown>>;
}

/** The entries of a cache file's text, or a reason it cannot be trusted. */
function parseCache(text: string): ParsedCache | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  const v = value as { format?: unknown; version?: unknown; entries?: unknown } | null;
  if (typeof v !== 'object' || v === null || v.format !== FORMAT) return `it is not a ${FORMAT} file`;
  if (v.version !== VERSION) return `it has version ${String(v.version)}; this treespec reads ${VERSION}`;
  if (typeof v.entries !== 'object' || v.entries === null || Array.isArray(v.entries)) {
    return 'its "entries" is not an object';
  }
  const entries: Record<string, TunedSeeds> = {};
  const stored: Record<string, Record<string, unknown>> = {};
  for (const [key, entry] of Object.entries(v.entries)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      return `entry ${key} is not an object`;
    const seeds: TunedSeeds = {};
    for (const [drafter, seed] of Object.entries(entry)) {
      // Another drafter's seeds (a later treespec's) are kept, not read.
      if (!(MODEL_DRAFTER_NAMES as readonly string[]).includes(drafter)) continue;
      if (!isSeed(seed)) return `entry ${key} holds an invalid "${drafter}" seed`;
      seeds[drafter as TunedDrafter] = seed;
    }
    entries[key] = seeds;
    stored[key] = entry as Record<string, unknown>;
  }
  return { entries, stored };
}

/**
 * The stored step costs for `key`, or undefined when none are stored. A file that is corrupt,
 * of another format or version, or holds invalid values is never trusted: it is ignored with a
 * warning through `warn` (default `console.warn`), and a later `writeTuningCache` replaces it.
 */
export async function readTuningCache(
  file: string,
  key: TuningKey,
  warn: (message: string) => void = console.warn,
): Promise<TunedSeeds | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseCache(text);
  if (typeof parsed === 'string') {
    warn(`treespec: ignoring the tuning cache ${file}: ${parsed}`);
    return undefined;
  }
  return parsed.entries[keyString(key)];
}

/**
 * Stores `seed` for `drafter` under `key`, keeping the file's other entries where the file is
 * valid (seeds of drafters this treespec does not know included).
 */
export async function writeTuningCache(
  file: string,
  key: TuningKey,
  drafter: TunedDrafter,
  seed: ControllerSeed,
): Promise<void> {
  let entries: Record<string, Record<string, unknown>> = {};
  try {
    const parsed = parseCache(await readFile(file, 'utf8'));
    if (typeof parsed !== 'string') entries = parsed.stored;
  } catch {
    // No file yet.
  }
  const k = keyString(key);
  entries[k] = { ...entries[k], [drafter]: seed };
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify({ format: FORMAT, version: VERSION, entries }, null, 2)}\n`);
  await rename(temporary, file);
}

/**
 * The key of a bundle's entries (its manifest text) on this machine and `provider`, at the
 * target's threads as a session given `namedThreads` (its `intraOpNumThreads`) runs it.
 */
export function tuningKey(
  manifestText: string,
  provider: string,
  namedThreads: number | undefined,
): TuningKey {
  return {
    manifestHash: manifestHash(manifestText),
    provider,
    machine: machineName(),
    threads: targetThreads(namedThreads) ?? null,
  };
}

/**
 * The stored step costs of a bundle on this machine and provider at the target's threads
 * ({@link tuningKey}), for a loader: from `file` (default {@link defaultTuningCacheFile}), or
 * undefined when `file` is false or nothing is stored. A file that cannot be trusted is ignored
 * with a warning through `warn` (default `console.warn`).
 */
export async function storedSeeds(
  manifestText: string,
  provider: string,
  file: string | false | undefined,
  namedThreads: number | undefined,
  warn: (message: string) => void = console.warn,
): Promise<TunedSeeds | undefined> {
  if (file === false) return undefined;
  if (file !== undefined && (typeof file !== 'string' || file.length === 0)) {
    throw new OptionError('tuningCache', file, 'a file path, or false for no tuning cache');
  }
  return readTuningCache(
    file ?? defaultTuningCacheFile(),
    tuningKey(manifestText, provider, namedThreads),
    warn,
  );
}
