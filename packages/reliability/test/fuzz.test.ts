import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, SafetensorsFile, TorchArchiveFile } from '@treespec/convert';
import { TreespecError } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { loadTreespec } from '@treespec/node';
import { checkedBundlePaths, parseManifest } from '@treespec/onnx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_CASES } from '../src/cases/fuzz-cases.js';
import { faultBundle, removeFaultBundles, TINY } from '../src/fault-bundle.js';
import {
  DRAFT_CHECKPOINT,
  readHeader,
  removeFaultCheckpoints,
  TORCH_FIXTURES,
  tempFolder,
  writeHeader,
} from '../src/fault-checkpoint.js';
import { mutateJson, seeded } from '../src/json-mutator.js';
import { expectReference, REFERENCE_PROMPT } from './support.js';

const manifest = JSON.parse(readFileSync(join(TINY, 'treespec.json'), 'utf8'));
let generator: TextGenerator;
let reference: string;
beforeAll(async () => {
  generator = await loadTreespec(TINY);
  reference = (await generator.generate(REFERENCE_PROMPT, { maxTokens: 8 })).text;
});
afterAll(async () => {
  await generator.dispose();
  removeFaultBundles();
  removeFaultCheckpoints();
});

/** Runs `attempt` on seeds 1, 2, … until `maxRuns` or `budgetMs`; returns how many ran. */
async function fuzz(
  maxRuns: number,
  budgetMs: number,
  attempt: (seed: number) => Promise<void>,
): Promise<number> {
  const start = performance.now();
  let runs = 0;
  while (runs < maxRuns && performance.now() - start < budgetMs) await attempt(++runs);
  return runs;
}

describe('seeded fuzzing of what a file can hold', () => {
  it(`${FUZZ_CASES[0].id}: ${FUZZ_CASES[0].fault}`, async () => {
    let refused = 0;
    const runs = await fuzz(3000, 3000, async (seed) => {
      const rng = seeded(seed);
      const text = JSON.stringify(mutateJson(manifest, rng, 1 + (rng.nextUint32() % 4)));
      try {
        checkedBundlePaths(parseManifest(text, 'fuzz.json'), 'fuzz.json');
      } catch (error) {
        expect(error, `seed ${seed}: ${(error as Error).stack}`).toBeInstanceOf(TreespecError);
        expect((error as Error).message).toMatch(/^fuzz\.json: /);
        refused++;
      }
    });
    expect(runs).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(runs / 2);
    expect(Object.prototype).not.toHaveProperty('polluted');
    await expectReference(generator, reference);
  }, 30_000);

  it(`${FUZZ_CASES[1].id}: ${FUZZ_CASES[1].fault}`, async () => {
    let loaded = 0;
    let seed = 0;
    let tried = 0;
    while (tried < 8 && seed < 5000) {
      const rng = seeded(100_000 + ++seed);
      const mutated = mutateJson(manifest, rng, 1);
      try {
        checkedBundlePaths(parseManifest(JSON.stringify(mutated), 'fuzz.json'), 'fuzz.json');
      } catch {
        continue;
      }
      tried++;
      const dir = faultBundle({ manifestText: JSON.stringify(mutated) });
      try {
        const g = await loadTreespec(dir);
        await g.generate(REFERENCE_PROMPT, { maxTokens: 4 });
        await g.dispose();
        loaded++;
      } catch (error) {
        expect(error, `seed ${seed}: ${(error as Error).stack}`).toBeInstanceOf(TreespecError);
      }
    }
    expect(tried).toBe(8);
    expect(loaded).toBeGreaterThanOrEqual(0);
    await expectReference(generator, reference);
  }, 60_000);

  it(`${FUZZ_CASES[2].id}: ${FUZZ_CASES[2].fault}`, async () => {
    const original = readFileSync(join(DRAFT_CHECKPOINT, 'model.safetensors'));
    const { header, data } = readHeader(original);
    const dir = tempFolder('treespec-fuzz-');
    let refused = 0;
    const runs = await fuzz(400, 3000, async (seed) => {
      const rng = seeded(200_000 + seed);
      const file = join(dir, `${seed}.safetensors`);
      writeFileSync(
        file,
        writeHeader(JSON.stringify(mutateJson(header, rng, 1 + (rng.nextUint32() % 3))), data),
      );
      try {
        const st = await SafetensorsFile.open(file);
        try {
          for (const entry of st.tensors.values()) await st.readFloat32(entry);
        } finally {
          await st.close();
        }
      } catch (error) {
        expect(error, `seed ${seed}: ${(error as Error).stack}`).toBeInstanceOf(CheckpointError);
        refused++;
      }
    });
    expect(runs).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(0);
    await expectReference(generator, reference);
  }, 30_000);

  it(`${FUZZ_CASES[3].id}: ${FUZZ_CASES[3].fault}`, async () => {
    const original = readFileSync(join(TORCH_FIXTURES, 'state-dict.bin'));
    // torch writes data.pkl first: from its PROTO opcode to the next zip record.
    const start = original.indexOf(Buffer.from([0x80, 0x02]));
    const end = original.indexOf(Buffer.from('PK'), start);
    const dir = tempFolder('treespec-fuzz-');
    let refused = 0;
    let reachedPickle = 0;
    const runs = await fuzz(2000, 3000, async (seed) => {
      const rng = seeded(300_000 + seed);
      const bytes = Buffer.from(original);
      for (let n = 1 + (rng.nextUint32() % 4); n > 0; n--) {
        bytes[start + (rng.nextUint32() % (end - start))] = rng.nextUint32() & 0xff;
      }
      const file = join(dir, `${seed}.bin`);
      writeFileSync(file, bytes);
      try {
        const archive = await TorchArchiveFile.open(file);
        try {
          // The fixture's transposed tensor is refused as such, mutated or not.
          for (const entry of archive.tensors.values()) {
            if (entry.name !== 'transposed') await archive.readBytes(entry);
          }
        } finally {
          await archive.close();
        }
      } catch (error) {
        expect(error, `seed ${seed}: ${(error as Error).stack}`).toBeInstanceOf(CheckpointError);
        if ((error as Error).message.includes('data.pkl: ')) reachedPickle++;
        refused++;
      }
    });
    expect(runs).toBeGreaterThan(50);
    expect(reachedPickle).toBeGreaterThan(runs / 4);
    expect(refused).toBeLessThan(runs);
  }, 30_000);
});
