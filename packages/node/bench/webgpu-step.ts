/**
 * What one verification step of the tiny target costs on onnxruntime-node's WebGPU provider
 * against its CPU provider, and what keeping the KV cache on the device would save.
 *
 *   pnpm -s --filter @treespec/node bench:webgpu-step [-- --context 128 --reps 9]
 *
 * For each attention layout (plain, and fused GroupQueryAttention converted into a temporary
 * folder) and provider, it prefills `context` tokens through the causal-LM runner and times
 * `verify` + `commit` of a one-node tree and of an eight-node chain (median of `reps`); the plain
 * layout also with the KV cache on the device (`DeviceKvCache`: present outputs and logits on
 * `gpu-buffer`, commits by the compaction graph, timed until the compaction is done), as the
 * planner sets it up on webgpu, and on the CPU provider the same logic on host tensors; and with
 * the cache on the device, a verification that reads the logits (copied down by the logits copy
 * graph) against a greedy one (each row's greedy token only, the logits left on the device),
 * alternating step by step. For the
 * fused layout on WebGPU it also times the bare session two ways with the same feeds: the cache
 * as host tensors bound to `past_*`/`present_*` (what the runner does: uploaded and read back
 * every call), and the cache kept on the device (`preferredOutputLocation: 'gpu-buffer'`, each
 * call's `present_*` bound as the next call's `past_*` and preallocated `present_*`). Needs a WebGPU adapter (without a GPU:
 * Mesa's lavapipe, mesa-vulkan-drivers 23 or later). Prints one JSON report.
 *
 * `--memory-rounds N` instead checks that the device cache releases what it replaces: N rounds of
 * a 40-token prefill and 40 verify + commit steps on webgpu, printing the process's resident
 * memory after each (lavapipe's device memory is host memory); `--no-release` keeps the replaced
 * cache tensors undisposed, for comparison.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DraftTree, KeepPlan, planKeep } from '@treespec/core';
import {
  type CausalLmLayout,
  causalLmLayout,
  compactionModel,
  compactionOutputLocations,
  DeviceKvCache,
  deviceCacheOutputLocations,
  findModel,
  layerName,
  logitsCopyModel,
  OnnxCausalLm,
  parseManifest,
} from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { createSession, type ExecutionProvider } from '../src/index.js';
import { bundleWithTarget } from '../test/converted-target.js';
import { TINY } from '../test/tiny.js';
import { median } from './median.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    context: { type: 'string', default: '128' },
    reps: { type: 'string', default: '9' },
    'memory-rounds': { type: 'string', default: '0' },
    'no-release': { type: 'boolean', default: false },
  },
});
const context = Number(values.context);
const reps = Number(values.reps);
const capacity = 2 * context;

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Wall and process CPU ms of one awaited call (CPU time includes lavapipe's threads, and is steadier under load). */
interface Cost {
  wallMs: number;
  cpuMs: number;
}

async function timed(run: () => Promise<unknown>): Promise<Cost> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** Medians of wall and CPU ms. */
function medians(costs: Cost[]): Cost {
  return {
    wallMs: round(median(costs.map((c) => c.wallMs))),
    cpuMs: round(median(costs.map((c) => c.cpuMs))),
  };
}

/** The sessions a device cache needs beside the target, on `provider`, as the planner opens them. */
async function deviceSessions(
  layout: CausalLmLayout,
  provider: ExecutionProvider,
): Promise<{ compaction: ort.InferenceSession; logitsCopy: ort.InferenceSession }> {
  const options = { executionProvider: provider };
  return {
    compaction: await createSession(
      compactionModel(layout.layers, layout.kvHeads, layout.headDim, layout.dtype),
      options,
      'drafter',
      compactionOutputLocations(layout.layers),
    ),
    logitsCopy: await createSession(logitsCopyModel(layout.vocabSize), options, 'drafter', {}),
  };
}

/**
 * The causal-LM runner of the bundle in `dir` on `provider`, sized for this bench; with `onDevice`
 * its KV cache (and logits) on the device as the planner sets it up.
 */
async function openRunner(
  dir: string,
  provider: ExecutionProvider,
  onDevice: boolean,
): Promise<OnnxCausalLm> {
  const file = join(dir, 'treespec.json');
  const entry = findModel(parseManifest(readFileSync(file, 'utf8'), file), 'target', file);
  const layout = causalLmLayout(entry);
  return new OnnxCausalLm(
    await createSession(
      join(dir, entry.file),
      { executionProvider: provider },
      'target',
      onDevice ? deviceCacheOutputLocations(layout) : undefined,
    ),
    layout,
    {
      maxContext: capacity,
      cacheChunk: capacity,
      ...(onDevice ? await deviceSessions(layout, provider) : {}),
    },
  );
}

/**
 * Median ms of `verify` + `commit` for a tree of `nodes` chained nodes after `context` cached
 * tokens; with `onDevice`, the cache is a {@link DeviceKvCache} and the step ends when its
 * compaction has run.
 */
async function stepCost(
  dir: string,
  provider: ExecutionProvider,
  nodes: number,
  onDevice = false,
): Promise<Cost> {
  const runner = await openRunner(dir, provider, onDevice);
  const { cache } = runner;
  try {
    const prompt = Int32Array.from({ length: context }, (_, i) => 100 + ((i * 37) % 5000));
    const tree = new DraftTree(nodes);
    const keep = new KeepPlan(nodes);
    const root = Int32Array.from([0]);
    const times: Cost[] = [];
    for (let r = 0; r <= reps; r++) {
      runner.reset();
      await runner.prefill(prompt);
      tree.reset(7);
      for (let n = 1; n < nodes; n++) tree.add(n - 1, 11 + n, 0);
      if (cache instanceof DeviceKvCache) await cache.ready();
      const cost = await timed(async () => {
        await runner.verify(tree);
        runner.commit(planKeep(tree, root, 1, keep));
        if (cache instanceof DeviceKvCache) await cache.ready();
      });
      if (r > 0) times.push(cost); // the first builds WebGPU pipelines
    }
    return medians(times);
  } finally {
    await runner.dispose();
  }
}

/**
 * Median ms of `verify` + `commit` with the cache (and the logits) on the device, the verification
 * reading the logits (copied down by the logits copy graph) and reading each row's greedy token
 * (the logits left on the device), alternating step by step.
 */
async function deviceLogitsCosts(
  provider: ExecutionProvider,
  nodes: number,
): Promise<{ logitsRead: Cost; greedy: Cost }> {
  const runner = await openRunner(TINY, provider, true);
  const cache = runner.cache as DeviceKvCache;
  try {
    const prompt = Int32Array.from({ length: context }, (_, i) => 100 + ((i * 37) % 5000));
    const tree = new DraftTree(nodes);
    const keep = new KeepPlan(nodes);
    const root = Int32Array.from([0]);
    const times: [Cost[], Cost[]] = [[], []];
    for (let r = 0; r <= reps; r++) {
      for (const greedy of r % 2 ? [true, false] : [false, true]) {
        runner.reset();
        await runner.prefill(prompt);
        tree.reset(7);
        for (let n = 1; n < nodes; n++) tree.add(n - 1, 11 + n, 0);
        await cache.ready();
        const cost = await timed(async () => {
          await runner.verify(tree, { greedy });
          runner.commit(planKeep(tree, root, 1, keep));
          await cache.ready();
        });
        if (r > 0) times[greedy ? 1 : 0].push(cost); // the first builds WebGPU pipelines
      }
    }
    return { logitsRead: medians(times[0]), greedy: medians(times[1]) };
  } finally {
    await runner.dispose();
  }
}

/** A bare fused-target session with its feeds and fetches, the cache on the host or on the device. */
async function fusedCall(
  dir: string,
  onDevice: boolean,
): Promise<{ call: (r: number) => Promise<Cost>; release: () => Promise<void> }> {
  const file = join(dir, 'treespec.json');
  const entry = findModel(parseManifest(readFileSync(file, 'utf8'), file), 'target', file);
  const { layers, kvHeads, headDim } = entry.dims;
  const names = (key: string, value: string) =>
    Array.from({ length: layers }, (_, l) => [layerName(key, l), layerName(value, l)]).flat();
  const past = names(entry.inputs.pastKey, entry.inputs.pastValue);
  const presents = names(entry.outputs.presentKey, entry.outputs.presentValue);
  const session = await ort.InferenceSession.create(join(dir, entry.file), {
    executionProviders: ['webgpu'],
    ...(onDevice
      ? { preferredOutputLocation: Object.fromEntries(presents.map((n) => [n, 'gpu-buffer' as const])) }
      : {}),
  });
  const feeds: Record<string, ort.Tensor> = {};
  if (entry.inputs.scoreRows)
    feeds[entry.inputs.scoreRows] = new ort.Tensor('int64', BigInt64Array.of(1n), [1]);
  for (const name of past)
    feeds[name] = new ort.Tensor('float32', new Float32Array(kvHeads * capacity * headDim), [
      1,
      kvHeads,
      capacity,
      headDim,
    ]);
  // Every output is named: with a preallocated gpu-buffer output and another left out, the binding
  // matched outputs to the wrong shapes ("Tensor size mismatch").
  const fetches: Record<string, ort.Tensor | null> = { [entry.outputs.logits]: null };
  if (entry.outputs.feature) fetches[entry.outputs.feature] = null;
  presents.forEach((name, i) => {
    fetches[name] = onDevice ? null : feeds[past[i]!]!;
  });
  const call = async (r: number): Promise<Cost> => {
    const at = context + r;
    feeds[entry.inputs.inputIds] = new ort.Tensor('int64', BigInt64Array.from([BigInt(100 + r)]), [1, 1]);
    feeds[entry.inputs.positionIds] = new ort.Tensor('int64', BigInt64Array.from([BigInt(at)]), [1, 1]);
    feeds[entry.inputs.attentionBias] = new ort.Tensor('float32', new Float32Array(at + 1), [
      1,
      1,
      1,
      at + 1,
    ]);
    let out: ort.InferenceSession.ReturnType = {};
    const cost = await timed(async () => {
      out = await session.run(feeds, fetches);
    });
    // On the device, the outputs become the next call's inputs and its preallocated outputs.
    if (onDevice)
      past.forEach((name, i) => {
        feeds[name] = out[presents[i]!]!;
        fetches[presents[i]!] = out[presents[i]!]!;
      });
    return cost;
  };
  return { call, release: () => session.release() };
}

/** Median ms of one-row fused-target calls, the cache on the host and on the device, alternating. */
async function fusedCallCosts(dir: string): Promise<{ cacheOnHost: Cost; cacheOnDevice: Cost }> {
  const host = await fusedCall(dir, false);
  const device = await fusedCall(dir, true);
  try {
    const times: [Cost[], Cost[]] = [[], []];
    for (let r = 0; r <= 2 * reps; r++) {
      const [h, d] = [await host.call(r), await device.call(r)];
      if (r > 1) {
        times[0].push(h);
        times[1].push(d);
      }
    }
    return { cacheOnHost: medians(times[0]), cacheOnDevice: medians(times[1]) };
  } finally {
    await host.release();
    await device.release();
  }
}

/** Resident MiB after each of `rounds` rounds of a prefill and 40 device-cache steps on webgpu. */
async function deviceCacheMemory(rounds: number, release: boolean): Promise<number[]> {
  if (!release) Object.defineProperty(DeviceKvCache.prototype, 'release', { value: () => undefined });
  const file = join(TINY, 'treespec.json');
  const entry = findModel(parseManifest(readFileSync(file, 'utf8'), file), 'target', file);
  const layout = causalLmLayout(entry);
  const runner = new OnnxCausalLm(
    await createSession(
      join(TINY, entry.file),
      { executionProvider: 'webgpu' },
      'target',
      deviceCacheOutputLocations(layout),
    ),
    layout,
    { maxContext: 512, ...(await deviceSessions(layout, 'webgpu')) },
  );
  const tree = new DraftTree(4);
  const keep = new KeepPlan(4);
  const path = Int32Array.from([0, 2]);
  const rss: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      runner.reset();
      await runner.prefill(Int32Array.from({ length: 40 }, (_, i) => 100 + i));
      for (let step = 0; step < 40; step++) {
        tree.reset(5 + step);
        tree.add(0, 9, 0);
        tree.add(0, 11, 0);
        tree.add(2, 13, 0);
        await runner.verify(tree);
        runner.commit(planKeep(tree, path, 2, keep));
      }
      rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    }
    return rss;
  } finally {
    await runner.dispose();
  }
}

const memoryRounds = Number(values['memory-rounds']);
if (memoryRounds > 0) {
  const rss = await deviceCacheMemory(memoryRounds, !values['no-release']);
  console.log(JSON.stringify({ release: !values['no-release'], residentMiBAfterEachRound: rss }));
  process.exit(0);
}

const fusedDir = await mkdtemp(join(tmpdir(), 'treespec-webgpu-step-'));
try {
  await bundleWithTarget(fusedDir, { attention: 'fused' });
  const report: Record<string, unknown> = { context, reps, loadavg: (await import('node:os')).loadavg() };
  for (const [layout, dir] of [
    ['plain', TINY],
    ['fused', fusedDir],
  ] as const) {
    for (const provider of ['cpu', 'webgpu'] as const) {
      report[`${layout}/${provider}`] = {
        verify1: await stepCost(dir, provider, 1),
        verify8: await stepCost(dir, provider, 8),
      };
      if (layout === 'plain') {
        report[`plain/${provider}, cache on the device`] = {
          verify1: await stepCost(dir, provider, 1, true),
          verify8: await stepCost(dir, provider, 8, true),
        };
        report[
          `plain/${provider}, cache on the device: logits read (copied down) against greedy (left there)`
        ] = {
          verify1: await deviceLogitsCosts(provider, 1),
          verify8: await deviceLogitsCosts(provider, 8),
        };
      }
    }
  }
  report['fused/webgpu bare call, 1 row'] = await fusedCallCosts(fusedDir);
  console.log(JSON.stringify(report, null, 2));
} finally {
  await rm(fusedDir, { recursive: true, force: true });
}
