import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertCausalLM, convertEagleHead } from '../src/index.js';
import { causalBias, headCounts, maxAbsDiff, openSession, runSequence } from '../src/testing/index.js';
import { problemOf } from './helpers/checkpoint-error.js';
import { linearOutputRows } from './helpers/kernel-rows.js';
import { type VariantSpec, writeVariantCheckpoint } from './helpers/random-checkpoint.js';
import { type Eagle3Spec, writeEagle3Checkpoint } from './helpers/random-eagle3.js';

/** An 8-layer target (so EAGLE's rule captures layers 2, 4, 5) and a head that fits it. */
const TARGET: VariantSpec = {
  architecture: 'LlamaForCausalLM',
  vocab: 96,
  hidden: 32,
  intermediate: 48,
  layers: 8,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  tie: false,
  dtype: 'BF16',
  seed: 41,
};
const HEAD: Eagle3Spec = {
  vocab: 96,
  draftVocab: 24,
  hidden: 32,
  intermediate: 48,
  heads: 4,
  kvHeads: 2,
  headDim: 8,
  targetLayers: 8,
  seed: 42,
};

let root: string;
let target: string;
let head: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'treespec-eagle3-'));
  target = join(root, 'target');
  head = join(root, 'head');
  await writeVariantCheckpoint(target, TARGET);
  await writeEagle3Checkpoint(head, HEAD);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('EAGLE-3 head conversion', () => {
  it('converts a head in the published layout, recording its d2t target ids and drafting them for the last score_rows rows', async () => {
    const out = join(root, 'bundle');
    await convertCausalLM({ checkpoint: target, out, eagle3Layers: 'reference' });
    const targetIds = await writeEagle3Checkpoint(join(root, 'head-ok'), HEAD);
    const { model } = await convertEagleHead({ checkpoint: join(root, 'head-ok'), target, out });
    expect(model).toMatchObject({
      id: 'eagle3-head',
      role: 'eagle3-head',
      graph: 'eagle3-head',
      feature: 'captured-layers',
      capturedLayers: [2, 4, 5],
      draftVocab: { size: 24, source: 'eagle3-d2t' },
      base: { id: 'target' },
    });
    expect(model.dims.vocab).toBe(96);
    expect(model.draftVocab?.targetIds).toEqual(Array.from(targetIds));
    const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
    expect(manifest.models.find((m: { id: string }) => m.id === 'target').capturedLayers).toEqual([2, 4, 5]);

    const t = await openSession(join(out, 'target.onnx'));
    const tokens = [5, 17, 60, 3, 88, 41];
    const n = tokens.length;
    const targetRun = await runSequence(t, { layers: 8, kvHeads: 2, headDim: 8 }, tokens);
    const all = targetRun.outputs.captured_feature!.data as Float32Array;
    const states = new Float32Array(n * 96);
    for (let r = 0; r < n; r++) states.set(all.subarray(r * 128 + 32, (r + 1) * 128), r * 96);
    const session = await openSession(join(out, 'eagle3-head.onnx'));
    const { outputs, cache: fullCache } = await runSequence(
      session,
      { layers: 1, kvHeads: 2, headDim: 8 },
      tokens,
      {
        feature: new ort.Tensor('float32', states, [1, n, 96]),
        draft_hidden: new ort.Tensor('float32', new Float32Array(0), [1, 0, 32]),
        ...headCounts(4, n),
      },
    );
    expect(outputs.logits!.dims).toEqual([1, n, 24]);
    const logits = outputs.logits!.data as Float32Array;
    const ids = outputs.top_ids!.data as BigInt64Array;
    for (let r = 0; r < n; r++) {
      const row = Array.from(logits.subarray(r * 24, (r + 1) * 24));
      const order = row.map((v, d) => [v, d] as const).sort((a, b) => b[0] - a[0]);
      for (let k = 0; k < 4; k++) expect(Number(ids[r * 4 + k])).toBe(targetIds[order[k]![1]]);
    }
    // Scoring the last 2 rows: their outputs as before, the cache of every row.
    const lastTwo = await runSequence(session, { layers: 1, kvHeads: 2, headDim: 8 }, tokens, {
      feature: new ort.Tensor('float32', states, [1, n, 96]),
      draft_hidden: new ort.Tensor('float32', new Float32Array(0), [1, 0, 32]),
      ...headCounts(4, 2),
    });
    expect(lastTwo.outputs.logits!.dims).toEqual([1, 2, 24]);
    expect(
      maxAbsDiff(lastTwo.outputs.logits!.data as Float32Array, logits.subarray((n - 2) * 24)),
    ).toBeLessThan(1e-5);
    expect(lastTwo.outputs.top_ids!.data).toEqual(ids.subarray((n - 2) * 4));
    expect(lastTwo.cache.keys[0]).toEqual(fullCache.keys[0]);
    // Only the scored rows attend: fc and the q/k/v projection see all six rows, the output
    // projection, the MLP's two and the lm_head the two scored ones.
    const rows = await linearOutputRows(
      join(out, 'eagle3-head.onnx'),
      {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, n]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(tokens, (_, i) => BigInt(i)),
          [1, n],
        ),
        attention_bias: new ort.Tensor('float32', causalBias(0, n), [1, 1, n, n]),
        feature: new ort.Tensor('float32', states, [1, n, 96]),
        draft_hidden: new ort.Tensor('float32', new Float32Array(0), [1, 0, 32]),
        'past_key.0': new ort.Tensor('float32', new Float32Array(0), [1, 0, 2, 8]),
        'past_value.0': new ort.Tensor('float32', new Float32Array(0), [1, 0, 2, 8]),
        ...headCounts(4, 2),
      },
      join(root, 'profile'),
    );
    expect(rows).toEqual([2, 2, 2, 2, n, n]);
    await Promise.all([t.release(), session.release()]);
  }, 60_000);

  it("converts with int8 weights, drafting the fp32 head's hidden states within int8 error", async () => {
    const out = join(root, 'bundle-int8');
    await convertCausalLM({ checkpoint: target, out, eagle3Layers: 'reference' });
    await convertEagleHead({ checkpoint: head, target, out, id: 'fp32' });
    const { model } = await convertEagleHead({
      checkpoint: head,
      target,
      out,
      id: 'int8',
      weightFormat: 'int8',
    });
    expect(model).toMatchObject({ weightFormat: 'int8', quantization: { bits: 8 }, role: 'eagle3-head' });
    const tokens = [7, 30, 2, 64, 11];
    const n = tokens.length;
    const states = Float32Array.from({ length: n * 96 }, (_, i) => Math.sin(i * 0.7) * 3);
    const feeds = {
      feature: new ort.Tensor('float32', states, [1, n, 96]),
      draft_hidden: new ort.Tensor('float32', new Float32Array(0), [1, 0, 32]),
      ...headCounts(2, n),
    };
    const shape = { layers: 1, kvHeads: 2, headDim: 8 };
    const a = await runSequence(await openSession(join(out, 'int8.onnx')), shape, tokens, feeds);
    const b = await runSequence(await openSession(join(out, 'fp32.onnx')), shape, tokens, feeds);
    const x = a.outputs.hidden!.data as Float32Array;
    const y = b.outputs.hidden!.data as Float32Array;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < x.length; i++) {
      diff += (x[i]! - y[i]!) ** 2;
      norm += y[i]! ** 2;
    }
    expect(Math.sqrt(diff / norm)).toBeLessThan(0.025);
  }, 60_000);

  it('rejects a head whose hidden size or vocabulary does not fit the target, naming both', async () => {
    const wide = join(root, 'head-wide');
    await writeEagle3Checkpoint(wide, { ...HEAD, hidden: 48 });
    const e = await problemOf(convertEagleHead({ checkpoint: wide, target, out: join(root, 'out-wide') }));
    expect(e.problem).toBe('mismatch');
    expect(e.message).toMatch(/EAGLE-3 head's hidden_size is 48 but the target's .* is 32/);
    const vocab = join(root, 'head-vocab');
    await writeEagle3Checkpoint(vocab, { ...HEAD, vocab: 128 });
    const v = await problemOf(convertEagleHead({ checkpoint: vocab, target, out: join(root, 'out-vocab') }));
    expect(v.message).toMatch(/vocab_size is 128 but the target's .* is 96/);
  });

  it('rejects a d2t that leaves the target vocabulary or maps two draft ids to one token, and a missing d2t', async () => {
    const outside = Int32Array.from({ length: 24 }, (_, d) => d * 4);
    outside[23] = 96;
    const dir = join(root, 'head-d2t-range');
    await writeEagle3Checkpoint(dir, HEAD, { targetIds: outside });
    const e = await problemOf(convertEagleHead({ checkpoint: dir, target, out: join(root, 'out-d2t') }));
    expect(e.problem).toBe('mismatch');
    expect(e.message).toBe(
      `${dir}: d2t maps draft id 23 to target id 96, which is outside the target vocabulary [0, 96)`,
    );

    const twice = Int32Array.from({ length: 24 }, (_, d) => d * 4);
    twice[5] = twice[4]!;
    const dup = join(root, 'head-d2t-dup');
    await writeEagle3Checkpoint(dup, HEAD, { targetIds: twice });
    const d = await problemOf(convertEagleHead({ checkpoint: dup, target, out: join(root, 'out-dup') }));
    expect(d.message).toMatch(/draft id 5 to target id 16, which is already taken/);

    const missing = join(root, 'head-no-d2t');
    await writeEagle3Checkpoint(missing, HEAD, { omit: ['d2t'] });
    const m = await problemOf(
      convertEagleHead({ checkpoint: missing, target, out: join(root, 'out-missing') }),
    );
    expect(m.problem).toBe('missing-tensor');
    expect(m.message).toMatch(/tensor "d2t" \(shape \[24\]\) is missing/);
  });

  it('rejects a layout it does not know, saying what an EAGLE-3 head looks like', async () => {
    const dir = join(root, 'head-renamed');
    await writeEagle3Checkpoint(dir, HEAD, { config: { architectures: ['LlamaForCausalLM'] } });
    const e = await problemOf(convertEagleHead({ checkpoint: dir, target, out: join(root, 'out-renamed') }));
    expect(e.problem).toBe('unknown-architecture');
    expect(e.message).toMatch(
      /looks like an EAGLE-3 head .* expected architectures \["LlamaForCausalLMEagle3"\]/,
    );
  });

  it('rejects a target in the output directory converted without the captured layers, and layers past the target', async () => {
    const out = join(root, 'bundle-plain');
    await convertCausalLM({ checkpoint: target, out });
    const e = await problemOf(convertEagleHead({ checkpoint: head, target, out }));
    expect(e.problem).toBe('mismatch');
    expect(e.message).toMatch(
      /fuses the inputs of target layers \[2, 4, 5\] but target "target" .* captures none; convert the target with --eagle3-layers 2,4,5/,
    );
    const past = await problemOf(
      convertEagleHead({ checkpoint: head, target, out: join(root, 'out-past'), eagle3Layers: [2, 4, 8] }),
    );
    expect(past.message).toMatch(/ascending layer indices below the target's 8 layers; found \[2, 4, 8\]/);
  });

  it('rejects converting the target again without the layers the folder’s EAGLE-3 head reads', async () => {
    const out = join(root, 'bundle-again');
    await convertCausalLM({ checkpoint: target, out, eagle3Layers: 'reference' });
    await convertEagleHead({ checkpoint: head, target, out });
    const e = await problemOf(convertCausalLM({ checkpoint: target, out }));
    expect(e.problem).toBe('mismatch');
    expect(e.message).toMatch(
      /holds the EAGLE-3 head "eagle3-head", which reads target layers \[2, 4, 5\], but this target captures none; convert it with --eagle3-layers 2,4,5/,
    );
  });
});
