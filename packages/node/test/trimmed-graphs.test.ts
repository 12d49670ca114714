import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ModelFormatError, ModelLoadError } from '@treespec/core';
import {
  causalLmLayout,
  compactionModel,
  compactionNames,
  deviceOnlyOutputs,
  modelToOpen,
  withoutOutputs,
} from '@treespec/onnx';
import { Tensor } from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { createSession } from '../src/index.js';
import { targetEntry } from './converted-target.js';
import { prefillFeeds } from './prefill-feeds.js';
import { TINY, targetCases } from './tiny.js';

const run = promisify(execFile);

/**
 * Models opened without the outputs their runners never fetch (`withoutOutputs`, and
 * `createSession`'s `unread`): what stays computes the same bits, and what only fed the dropped
 * outputs is gone.
 */
describe('graphs opened without unread outputs', () => {
  it('drop the outputs named and the nodes that computed only them, and compute the rest alike', async () => {
    const names = compactionNames(2);
    const whole = compactionModel(2, 1, 2, 'float32');
    const trimmed = withoutOutputs(whole, new Set([names.keptKeys[1]!, names.keptValues[1]!]));
    const text = (bytes: Uint8Array) => new TextDecoder('latin1').decode(bytes);
    expect(trimmed.length).toBeLessThan(whole.length);
    // Layer 1's Gather outputs (`new_key.1.kept`) fed only the dropped Concats.
    expect(text(whole)).toContain('new_key.1.kept');
    expect(text(trimmed)).not.toContain('new_key.1.kept');
    expect(text(trimmed)).toContain('new_key.0.kept');
    const rows = (values: number[]) =>
      new Tensor('float32', Float32Array.from(values), [1, values.length / 2, 1, 2]);
    const feeds: Record<string, Tensor> = { [names.keep]: new Tensor('int64', BigInt64Array.of(1n), [1]) };
    for (const list of [names.pastKeys, names.pastValues])
      for (const name of list) feeds[name] = rows([1, 2]);
    for (const list of [names.newKeys, names.newValues])
      for (const name of list) feeds[name] = rows([3, 4, 5, 6]);
    const a = await createSession(whole);
    const b = await createSession(trimmed);
    try {
      expect([...b.outputNames].sort()).toEqual([names.keptKeys[0], names.keptValues[0]].sort());
      // Graph inputs stay, so the same feeds serve both.
      expect([...b.inputNames].sort()).toEqual([...a.inputNames].sort());
      const [x, y] = [await a.run(feeds), await b.run(feeds)];
      for (const name of b.outputNames) expect(y[name]!.data).toEqual(x[name]!.data);
      expect(Array.from(y[names.keptKeys[0]!]!.data as Float32Array)).toEqual([1, 2, 5, 6]);
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });

  it('return the model itself when it has none of the outputs, and refuse bytes that are not a model', () => {
    const model = compactionModel(1, 1, 2, 'float32');
    expect(withoutOutputs(model, new Set(['no_such_output']))).toBe(model);
    expect(withoutOutputs(model, new Set())).toBe(model);
    expect(() => withoutOutputs(Uint8Array.of(0x0a, 0x7f, 0x01), new Set(['x']))).toThrow(ModelFormatError);
    expect(() => withoutOutputs(Uint8Array.of(0x0b), new Set(['x']))).toThrow(/wire type 3/);
    // What a host opens is left to ONNX Runtime to judge when it is not a model.
    const garbage = Uint8Array.of(0x0a, 0x7f, 0x01);
    expect(modelToOpen(garbage, ['x'])).toBe(garbage);
    expect(modelToOpen(model, ['no_such_output'])).toBe(model);
  });

  it("open the tiny target without its device-only outputs, with every fetched output's bits unchanged", async () => {
    const model = targetEntry(TINY);
    const unread = deviceOnlyOutputs(model);
    expect(unread).toEqual([
      ...Array.from({ length: 8 }, (_, l) => `cache_key.${l}`),
      ...Array.from({ length: 8 }, (_, l) => `cache_value.${l}`),
      'row_outputs',
      'captured_row_outputs',
    ]);
    const file = join(TINY, model.file);
    const whole = await createSession(file);
    const trimmed = await createSession(file, {}, 'target', undefined, unread);
    try {
      expect(whole.outputNames).toEqual(expect.arrayContaining(unread));
      expect(trimmed.outputNames.filter((n) => unread.includes(n))).toEqual([]);
      expect(trimmed.outputNames.length).toBe(whole.outputNames.length - unread.length);
      const layout = causalLmLayout(model);
      const { names } = layout;
      const fetches = [
        names.logits,
        names.feature,
        names.greedy!.token,
        names.greedy!.logitSum,
        names.sampler!.token,
        ...names.presentKeys,
        ...names.presentValues,
      ];
      const ids = targetCases()[0]!.prompt_ids.slice(0, 9);
      const feeds = prefillFeeds(layout, ids, ids.length, [0.25, 0.75]);
      const [x, y] = [await whole.run(feeds, fetches), await trimmed.run(feeds, fetches)];
      for (const name of fetches) expect(y[name]!.data, name).toEqual(x[name]!.data);
    } finally {
      await Promise.all([whole.release(), trimmed.release()]);
    }
  });

  it('leave no initializer behind that ONNX Runtime would warn about', async () => {
    // The sampler's outputs dropped as well: its nodes' constants then feed nothing, and ONNX
    // Runtime logs a warning for each initializer it finds unused (in a child, whose stderr is ours to read).
    const script = `
      const { createSession } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const unread = [...${JSON.stringify(deviceOnlyOutputs(targetEntry(TINY)))}, 'sampled_token', 'sample_weights', 'sample_mass'];
      const session = await createSession(${JSON.stringify(join(TINY, 'target.onnx'))}, {}, 'target', undefined, unread);
      console.log(session.outputNames.length);`;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script]);
    expect(Number(stdout.trim())).toBeGreaterThan(0);
    expect(stderr).toBe('');
  });

  it("leave a model file that is not ONNX to ONNX Runtime's own ModelLoadError", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'treespec-trim-'));
    try {
      const file = join(dir, 'broken.onnx');
      await writeFile(file, Uint8Array.of(0x3a, 0xff));
      const opened = createSession(file, {}, 'target', undefined, ['cache_key.0']);
      await expect(opened).rejects.toThrow(ModelLoadError);
      await expect(opened).rejects.toThrow(/broken\.onnx: ONNX Runtime could not load the model/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
