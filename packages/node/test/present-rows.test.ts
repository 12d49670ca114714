import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeepPlan, planKeep } from '@treespec/core';
import {
  type CausalLmLayout,
  causalLmLayout,
  deviceOnlyOutputs,
  findModel,
  OnnxCausalLm,
  OnnxDraftLm,
  parseManifest,
  unreadOutputs,
} from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { targetEntry } from './converted-target.js';
import { prefillFeeds } from './prefill-feeds.js';
import { branchingTree } from './target-distribution.js';
import { TINY, targetCases } from './tiny.js';

/** `layout` as a bundle converted before `present_rows` reads it: each layer's entries fetched alone. */
function withSeparatePresents(layout: CausalLmLayout): CausalLmLayout {
  const { presentRows: _packed, ...names } = layout.names;
  return { ...layout, names };
}

/**
 * Every layer's new keys and values in one output (`present_rows`), which host caches fetch in
 * place of two outputs per layer: the same bits, and the same caches and tokens through the runners.
 */
describe("the tiny models' packed new entries", () => {
  it("are unread by device caches, and read on the host in place of each layer's present_*", () => {
    const model = targetEntry(TINY);
    expect(model.outputs.presentRows).toBe('present_rows');
    const layers = Array.from({ length: 8 }, (_, l) => l);
    expect(unreadOutputs(model, 'device')).toEqual(['present_rows']);
    expect(unreadOutputs(model, 'host')).toEqual([
      ...deviceOnlyOutputs(model),
      ...layers.flatMap((l) => [`present_key.${l}`, `present_value.${l}`]),
    ]);
    // A model without them (converted before) keeps its per-layer outputs on the host.
    const { presentRows: _packed, ...outputs } = model.outputs;
    expect(unreadOutputs({ ...model, outputs }, 'host')).toEqual(deviceOnlyOutputs(model));
    expect(unreadOutputs({ ...model, outputs }, 'device')).toEqual([]);
  });

  it("hold each layer's present_key then present_value, bit for bit, in a graph opened without them", async () => {
    const model = targetEntry(TINY);
    const file = join(TINY, model.file);
    const whole = await createSession(file);
    const host = await createSession(file, {}, 'target', undefined, unreadOutputs(model, 'host'));
    try {
      expect(host.outputNames).toContain('present_rows');
      expect(
        host.outputNames.filter((n) => n.startsWith('present_key') || n.startsWith('present_value')),
      ).toEqual([]);
      const layout = causalLmLayout(model);
      const { names } = layout;
      const ids = targetCases()[0]!.prompt_ids.slice(0, 7);
      const feeds = prefillFeeds(layout, ids, 1);
      const separate = await whole.run(feeds, [...names.presentKeys, ...names.presentValues]);
      const packed = (await host.run(feeds, ['present_rows']))['present_rows']!.data as Float32Array;
      const expected = names.presentKeys.flatMap((key, l) => [
        ...(separate[key]!.data as Float32Array),
        ...(separate[names.presentValues[l]!]!.data as Float32Array),
      ]);
      expect(packed.length).toBe(8 * 2 * ids.length * layout.kvHeads * layout.headDim);
      expect(Array.from(packed)).toEqual(expected);
    } finally {
      await Promise.all([whole.release(), host.release()]);
    }
  });

  it('give the target runner the same cache and tokens as separate outputs, step after step', async () => {
    const model = targetEntry(TINY);
    const file = join(TINY, model.file);
    const layout = causalLmLayout(model);
    const host = await createSession(file, {}, 'target', undefined, unreadOutputs(model, 'host'));
    const packed = new OnnxCausalLm(host, layout);
    const separate = new OnnxCausalLm(await createSession(file), withSeparatePresents(layout));
    try {
      const prompt = Int32Array.from(targetCases()[0]!.prompt_ids.slice(0, -1));
      const tree = branchingTree();
      const steps: string[][] = [[], []];
      for (const [i, runner] of [packed, separate].entries()) {
        await runner.prefill(prompt);
        for (let step = 0; step < 3; step++) {
          const out = await runner.verify(tree, { greedy: true, features: true });
          steps[i]!.push(`${Array.from(out.greedyTokens!)} | ${Array.from(out.features!.subarray(0, 8))}`);
          // Keep a path that is not the tree's first rows, so that the commit moves rows.
          runner.commit(planKeep(tree, Int32Array.of(0, 1, 5, 9), 4, new KeepPlan(tree.capacity)));
        }
      }
      expect(steps[0]).toEqual(steps[1]);
      expect(packed.cachedLength).toBe(separate.cachedLength);
    } finally {
      await packed.dispose();
      await separate.dispose();
    }
  });

  it('give the draft LM runner the same drafts as separate outputs', async () => {
    const manifestPath = join(TINY, 'treespec.json');
    const model = findModel(
      parseManifest(readFileSync(manifestPath, 'utf8'), manifestPath),
      'draft',
      manifestPath,
    );
    expect(model.outputs.presentRows).toBe('present_rows');
    const file = join(TINY, model.file);
    const layout = causalLmLayout(model);
    const host = await createSession(file, {}, 'drafter', undefined, unreadOutputs(model, 'host'));
    const whole = await createSession(file);
    const packed = new OnnxDraftLm(host, layout);
    const separate = new OnnxDraftLm(whole, withSeparatePresents(layout));
    try {
      const ids = Int32Array.from(targetCases()[0]!.prompt_ids);
      const drafts: string[] = [];
      for (const runner of [packed, separate]) {
        // The prompt in chunks the cache grows through, then two more rows after it.
        const first = await runner.commit(ids, new Float32Array(0), ids.length - 2, 4);
        const next = await runner.commit(ids.subarray(ids.length - 2), new Float32Array(0), 2, 4);
        drafts.push(
          [first, next]
            .map(
              (s) => `${Array.from(s.topTokens.subarray(0, 4))} ${Array.from(s.topLogProbs.subarray(0, 4))}`,
            )
            .join(' | '),
        );
      }
      expect(drafts[0]).toEqual(drafts[1]);
    } finally {
      await packed.dispose();
      await separate.dispose();
    }
  });
});
