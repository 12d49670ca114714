import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DraftTree } from '@treespec/core';
import { causalLmLayout, LOGITS_COPY_NAMES, logitsCopyModel, OnnxCausalLm } from '@treespec/onnx';
import { SharedKvCache } from '@treespec/onnx/internal';
import { loadedOnnxRuntime, platformPackageName } from '@treespec/onnxruntime';
import { Tensor } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { bundleWithTarget, targetEntry } from './converted-target.js';
import { TINY, targetCases } from './tiny.js';

let fused: string;
beforeAll(async () => {
  fused = await mkdtemp(join(tmpdir(), 'treespec-runtime-fused-'));
  await bundleWithTarget(fused, { attention: 'fused' });
}, 120_000);
afterAll(async () => {
  await rm(fused, { recursive: true, force: true });
});

describe("the Node sessions' ONNX Runtime", () => {
  it("runs on the bundled binary package of this machine's platform", async () => {
    const session = await createSession(join(TINY, 'eagle-head.onnx'));
    await session.release();
    expect(loadedOnnxRuntime()).toMatchObject({
      source: 'bundled',
      packageName: platformPackageName(process.platform, process.arch),
    });
  });

  it('accepts the KV cache tensors the runners construct as preallocated outputs on the first call', async () => {
    const entry = targetEntry(fused);
    const session = await createSession(join(fused, entry.file));
    const run = session.run.bind(session);
    let calls = 0;
    session.run = ((...args: Parameters<typeof run>) => {
      calls++;
      return run(...args);
    }) as typeof session.run;
    const runner = new OnnxCausalLm(session, causalLmLayout(entry));
    try {
      const { prompt_ids, greedy_ids } = targetCases()[0]!;
      await runner.prefill(Int32Array.from(prompt_ids.slice(0, -1)));
      const tree = new DraftTree(1);
      tree.reset(prompt_ids.at(-1)!);
      const { logits } = await runner.verify(tree);
      // One run per call: none repeated with the session's own Tensor class (the dual-package fallback).
      expect(calls).toBe(2);
      const cache = runner.cache as SharedKvCache;
      expect(cache).toBeInstanceOf(SharedKvCache);
      expect(cache.keyTensors[0]!.constructor).toBe(Tensor);
      const first = logits.subarray(0, entry.dims.vocab);
      expect(first.indexOf(Math.max(...first))).toBe(greedy_ids[0]);
    } finally {
      await runner.dispose();
    }
  });

  it('runs a chain of calls back to back, and gives the event loop a turn at least every 16 ms of them', async () => {
    const vocab = 4096;
    const session = await createSession(logitsCopyModel(vocab));
    const input = new Float32Array(vocab).map((_, i) => i * 0.5);
    const feeds = { [LOGITS_COPY_NAMES.deviceLogits]: new Tensor('float32', input, [1, 1, vocab]) };
    let turns = 0;
    let longestGapMs = 0;
    let lastTurn = performance.now();
    let ticking = true;
    const tick = () => {
      const now = performance.now();
      longestGapMs = Math.max(longestGapMs, now - lastTurn);
      lastTurn = now;
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let calls = 0;
    try {
      const start = performance.now();
      while (performance.now() - start < 80) {
        const out = await session.run(feeds);
        expect(out[LOGITS_COPY_NAMES.logits]!.data[vocab - 1]).toBe(input[vocab - 1]);
        calls++;
      }
    } finally {
      ticking = false;
      await session.release();
    }
    // A turn per call would give about as many turns as calls (each call is a copy of 16 kB).
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(turns).toBeLessThan(calls / 4);
    expect(longestGapMs).toBeLessThan(16 + 40);
  });
});
