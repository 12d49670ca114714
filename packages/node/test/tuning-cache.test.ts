import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  defaultTuningCacheFile,
  manifestHash,
  readTuningCache,
  type TuningKey,
  writeTuningCache,
} from '../src/index.js';

const key: TuningKey = {
  manifestHash: manifestHash('{"models":[]}'),
  provider: 'cpu',
  machine: 'Test CPU x2',
  threads: 2,
};
const seed = {
  verifyMs: [[1, 9.5] as [number, number], [11, 14]],
  draftMs: [[5, 3.25] as [number, number]],
  overheadMs: 0.3,
};

describe('tuning cache', () => {
  let dir: string;
  let file: string;
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'treespec-tuning-'));
    file = join(dir, 'sub', 'tuning.json');
    warnings.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps step costs per model, provider, machine and the target's threads, and drafter by drafter", async () => {
    expect(await readTuningCache(file, key, warn)).toBeUndefined();
    await writeTuningCache(file, key, 'eagle2', seed);
    await writeTuningCache(file, key, 'draft-lm', { verifyMs: [[1, 9]], draftMs: [] });
    await writeTuningCache(file, key, 'eagle3', { verifyMs: [[1, 8]], draftMs: [[1, 0.5]] });
    await writeTuningCache(file, { ...key, provider: 'cuda' }, 'eagle2', { verifyMs: [[1, 1]], draftMs: [] });
    expect(await readTuningCache(file, key, warn)).toEqual({
      eagle2: seed,
      'draft-lm': { verifyMs: [[1, 9]], draftMs: [] },
      eagle3: { verifyMs: [[1, 8]], draftMs: [[1, 0.5]] },
    });
    expect((await readTuningCache(file, { ...key, provider: 'cuda' }, warn))?.eagle2?.verifyMs).toEqual([
      [1, 1],
    ]);
    expect(await readTuningCache(file, { ...key, machine: 'Other CPU x8' }, warn)).toBeUndefined();
    expect(await readTuningCache(file, { ...key, threads: 1 }, warn)).toBeUndefined();
    expect(await readTuningCache(file, { ...key, threads: null }, warn)).toBeUndefined();
    expect(await readTuningCache(file, { ...key, manifestHash: manifestHash('{}') }, warn)).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('names a bundle by its models, not by the budgets `treespec tune --write` stores beside them', () => {
    const models = { version: 4, models: [{ id: 'target', file: 'target.onnx' }] };
    const tuned = { ...models, tuning: { cpu: { tree: { depth: 3, totalTokens: 6 } } } };
    expect(manifestHash(JSON.stringify(tuned, null, 2))).toBe(manifestHash(JSON.stringify(models)));
    expect(manifestHash(JSON.stringify({ ...models, models: [] }))).not.toBe(
      manifestHash(JSON.stringify(models)),
    );
    expect(manifestHash('not json {')).not.toBe(manifestHash('{}'));
  });

  it('ignores a corrupt, foreign or tampered file with a warning, and a later write replaces it', async () => {
    const bad = [
      'not json {',
      JSON.stringify({ format: 'something-else', version: 1, entries: {} }),
      JSON.stringify({ format: 'treespec-tuning-cache', version: 99, entries: {} }),
      JSON.stringify({
        format: 'treespec-tuning-cache',
        version: 1,
        entries: {
          [`${key.manifestHash}|cpu|Test CPU x2`]: { eagle2: { verifyMs: [[1, -5]], draftMs: [] } },
        },
      }),
      JSON.stringify({
        format: 'treespec-tuning-cache',
        version: 1,
        entries: {
          [`${key.manifestHash}|cpu|Test CPU x2`]: { eagle2: { verifyMs: [[0.5, 3]], draftMs: [] } },
        },
      }),
    ];
    await writeTuningCache(file, key, 'eagle2', seed);
    for (const text of bad) {
      await writeFile(file, text);
      expect(await readTuningCache(file, key, warn)).toBeUndefined();
    }
    expect(warnings).toHaveLength(bad.length);
    expect(warnings[0]).toMatch(/ignoring the tuning cache .*tuning\.json: it is not JSON/);
    expect(warnings[2]).toMatch(/version 99/);
    await writeTuningCache(file, key, 'eagle2', seed);
    expect(await readTuningCache(file, key, warn)).toEqual({ eagle2: seed });
    expect(JSON.parse(await readFile(file, 'utf8')).format).toBe('treespec-tuning-cache');
  });

  it("keeps the seeds of drafters it does not know (a later treespec's) on writes, and reads its own", async () => {
    await writeTuningCache(file, key, 'eagle2', seed);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    const k = Object.keys(stored.entries)[0]!;
    stored.entries[k].medusa = { anything: [1, 2] };
    stored.entries['another model'] = { medusa: 'kept as it is' };
    await writeFile(file, JSON.stringify(stored));
    expect(await readTuningCache(file, key, warn)).toEqual({ eagle2: seed });
    await writeTuningCache(file, key, 'draft-lm', seed);
    const after = JSON.parse(await readFile(file, 'utf8'));
    expect(after.entries[k]).toEqual({ eagle2: seed, medusa: { anything: [1, 2] }, 'draft-lm': seed });
    expect(after.entries['another model']).toEqual({ medusa: 'kept as it is' });
    expect(warnings).toEqual([]);
  });

  it('lives under XDG_CACHE_HOME when it is set', () => {
    expect(defaultTuningCacheFile({ XDG_CACHE_HOME: '/tmp/xdg' })).toBe(
      join('/tmp/xdg', 'treespec', 'tuning.json'),
    );
  });
});
