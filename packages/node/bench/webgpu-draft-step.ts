/**
 * What one drafting round of the tiny bundle's draft models (the EAGLE-2 head, the draft LM)
 * costs on onnxruntime-node's WebGPU provider with their KV cache on the host and on the device,
 * against the CPU provider's host cache.
 *
 *   pnpm -s --filter @treespec/node bench:webgpu-draft-step [-- --context 128 --reps 15]
 *
 * Each runner commits `context` rows, then times rounds (median of `reps`, after 3 warm-up
 * rounds) of what a drafter does per step: a commit of 2 accepted rows (which drops the last
 * round's drafts) and two draft calls of 1 and 4 rows. The device cache (`DeviceDraftKvCache`,
 * opened as the planner opens it on webgpu: `draftDeviceCacheSetup`) is timed until its last
 * append is done. Wall and process CPU milliseconds (CPU time counts lavapipe's threads, and is
 * steadier on a loaded machine). Needs a WebGPU adapter (without a GPU: Mesa's lavapipe,
 * mesa-vulkan-drivers 23 or later). Prints one JSON report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DraftModel } from '@treespec/core';
import {
  causalLmLayout,
  DeviceDraftKvCache,
  draftDeviceCacheSetup,
  eagleHeadLayout,
  findModel,
  type ManifestModel,
  OnnxDraftLm,
  OnnxEagleHead,
  parseManifest,
} from '@treespec/onnx';
import { createSession } from '../src/index.js';
import { TINY } from '../test/tiny.js';
import { median } from './median.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    context: { type: 'string', default: '128' },
    reps: { type: 'string', default: '15' },
  },
});
const context = Number(values.context);
const reps = Number(values.reps);
const K = 4;

const round = (ms: number) => Math.round(ms * 10) / 10;

async function open(model: ManifestModel, provider: 'cpu' | 'webgpu', onDevice: boolean) {
  const setup = onDevice ? draftDeviceCacheSetup(model, false) : null;
  const options = { executionProvider: provider };
  const session = await createSession(join(TINY, model.file), options, 'drafter', setup?.modelOutputs);
  const compaction = setup
    ? await createSession(setup.compaction, options, 'drafter', setup.compactionOutputs)
    : undefined;
  const runnerOptions = { maxContext: 2 * context + 64, ...(compaction ? { compaction } : {}) };
  return model.role === 'eagle-head'
    ? new OnnxEagleHead(session, eagleHeadLayout(model), runnerOptions)
    : new OnnxDraftLm(session, causalLmLayout(model), runnerOptions);
}

/** Deterministic tokens and features for `rows` rows of `model`. */
function rowsOf(model: DraftModel, rows: number): [Int32Array, Float32Array] {
  const tokens = Int32Array.from({ length: rows }, (_, i) => 100 + ((i * 37) % 5000));
  const features = Float32Array.from({ length: rows * model.featureSize }, (_, i) => Math.sin(i));
  return [tokens, features];
}

/** A commit of 2 rows and two draft calls (1 and 4 rows, each attending to everything before it). */
async function draftingRound(model: DraftModel): Promise<void> {
  await model.commit(...rowsOf(model, 2), 2, K);
  const committed = model.committedRows;
  for (const rows of [1, 4]) {
    const width = committed + model.draftRows + rows;
    const positions = new Int32Array(rows).fill(committed);
    await model.draft(...rowsOf(model, rows), positions, new Float32Array(rows * width), rows, K);
  }
}

const manifestPath = join(TINY, 'treespec.json');
const manifest = parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath);
const report: Record<string, Record<string, { wallMs: number; cpuMs: number; location: string }>> = {};
for (const role of ['eagle-head', 'draft'] as const) {
  const model = findModel(manifest, role);
  report[role] = {};
  for (const [name, provider, onDevice] of [
    ['cpu, host cache', 'cpu', false],
    ['webgpu, host cache', 'webgpu', false],
    ['webgpu, cache on the device', 'webgpu', true],
  ] as const) {
    const runner = await open(model, provider, onDevice);
    try {
      await runner.commit(...rowsOf(runner, context), context, K);
      for (let i = 0; i < 3; i++) await draftingRound(runner);
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < reps; i++) {
        const used = process.cpuUsage();
        const started = performance.now();
        await draftingRound(runner);
        if (runner.cache instanceof DeviceDraftKvCache) await runner.cache.ready();
        wall.push(performance.now() - started);
        const { user, system } = process.cpuUsage(used);
        cpu.push((user + system) / 1000);
      }
      report[role][name] = {
        wallMs: round(median(wall)),
        cpuMs: round(median(cpu)),
        location: runner.cacheLocation,
      };
    } finally {
      await runner.dispose();
    }
  }
}
console.log(JSON.stringify({ context, reps, report }, null, 2));
