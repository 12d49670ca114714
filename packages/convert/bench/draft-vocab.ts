/**
 * Head-call cost of a reduced draft vocabulary (FR-Spec) on the tiny EAGLE-2 head and draft LM,
 * and of the tiny EAGLE-3 head beside them, on onnxruntime-node's CPU execution provider. Copies a
 * converted bundle (default: model-tiny's), adds the EAGLE-2 head at each K (ids
 * `eagle-head-k<K>` int8 and `eagle-head-fp32-k<K>`) and the int8 draft LM (`draft-int8-k<K>`) so that `treespec bench -m <out> --models <id>` can measure tau on the
 * same bundle, and times one drafting call of every head, interleaved call by call so drift of a
 * shared machine hits all alike (medians). With `--context C` each K also gets an int8 EAGLE-2 head
 * that scores up to C tokens of the generation's context beside its K (`eagle-head-k<K>-c<C>`), timed
 * with `--context-ids` of them listed. Not a test.
 *
 *   pnpm -s --filter @treespec/convert exec tsx bench/draft-vocab.ts --corpus FILE [--out DIR] [--k 512,1024,2048,4096] [--rounds 30] [--rows 1,4] [--context 512 --context-ids 40]
 */
import { cp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { convertCausalLM, convertEagleHead } from '../src/index.js';
import { causalBias } from '../src/testing/index.js';
import { decoderFeeds, ONE_THREAD_SESSION, percentiles } from './decoder-feeds.js';

const tiny = resolve(import.meta.dirname, '../../model-tiny');
const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: join(tiny, 'models/tiny') },
    checkpoints: { type: 'string', default: join(tiny, 'checkpoints') },
    corpus: { type: 'string', default: join(tiny, 'checkpoints/treespec-tiny-generated-frequencies.json') },
    out: { type: 'string', default: '/tmp/treespec-draft-vocab' },
    k: { type: 'string', default: '512,1024,2048,4096' },
    rounds: { type: 'string', default: '30' },
    past: { type: 'string', default: '200' },
    rows: { type: 'string', default: '1,4' },
    context: { type: 'string', default: '0' },
    'context-ids': { type: 'string', default: '40' },
  },
});

async function main(): Promise<void> {
  const out = args.out!;
  await rm(out, { recursive: true, force: true });
  await cp(args.bundle!, out, { recursive: true });
  const checkpoint = (name: string) => join(args.checkpoints!, name);
  const sizes = args.k!.split(',').map(Number);
  const contextTokens = Number(args.context);
  const contextFeeds = new Map<string, ort.Tensor>();
  const heads: Array<{ id: string; kind: 'eagle2' | 'eagle3' | 'draft' }> = [
    { id: 'eagle-head', kind: 'eagle2' },
    { id: 'eagle-head-fp32', kind: 'eagle2' },
    { id: 'eagle3-head', kind: 'eagle3' },
    { id: 'draft-int8', kind: 'draft' },
  ];
  for (const k of sizes) {
    for (const [suffix, weightFormat] of [
      ['', 'int8'],
      ['-fp32', 'fp32'],
    ] as const) {
      const id = `eagle-head${suffix}-k${k}`;
      await convertEagleHead({
        checkpoint: checkpoint('treespec-tiny-eagle2'),
        target: checkpoint('treespec-tiny'),
        out,
        id,
        weightFormat,
        draftVocab: { size: k, corpus: resolve(args.corpus!) },
      });
      heads.push({ id, kind: 'eagle2' });
    }
    for (const weightFormat of contextTokens > 0 ? (['int8', 'fp32'] as const) : []) {
      const id = `eagle-head${weightFormat === 'fp32' ? '-fp32' : ''}-k${k}-c${contextTokens}`;
      const { model } = await convertEagleHead({
        checkpoint: checkpoint('treespec-tiny-eagle2'),
        target: checkpoint('treespec-tiny'),
        out,
        id,
        weightFormat,
        draftVocab: { size: k, corpus: resolve(args.corpus!), contextTokens },
      });
      const kept = new Set(model.draftVocab!.targetIds);
      const ids: bigint[] = [];
      for (let t = model.dims.vocab - 1; ids.length < Number(args['context-ids']); t--)
        if (!kept.has(t)) ids.push(BigInt(t));
      contextFeeds.set(id, new ort.Tensor('int64', BigInt64Array.from(ids), [ids.length]));
      heads.push({ id, kind: 'eagle2' });
    }
    const draftId = `draft-int8-k${k}`;
    await convertCausalLM({
      checkpoint: checkpoint('treespec-tiny-draft'),
      out,
      id: draftId,
      role: 'draft',
      weightFormat: 'int8',
      draftVocab: { size: k, corpus: resolve(args.corpus!) },
    });
    heads.push({ id: draftId, kind: 'draft' });
  }
  const options = ONE_THREAD_SESSION;
  const sessions = new Map<string, ort.InferenceSession>();
  for (const h of heads)
    sessions.set(h.id, await ort.InferenceSession.create(join(out, `${h.id}.onnx`), options));
  const target = await ort.InferenceSession.create(join(out, 'target.onnx'), options);
  const past = Number(args.past);
  const rounds = Number(args.rounds);
  const verifyInput = decoderFeeds(8, past, 8, false);
  const rows: Array<{
    id: string;
    n: number;
    state: string;
    medianMs: number;
    p10Ms: number;
    p90Ms: number;
  }> = [];
  for (const n of args.rows!.split(',').map(Number)) {
    const eagle2Input = decoderFeeds(1, past, n, true);
    const eagle3Input: Record<string, ort.Tensor> = {
      ...eagle2Input,
      feature: new ort.Tensor('float32', new Float32Array(0), [1, 0, 3 * 384]),
      draft_hidden: eagle2Input.feature!,
    };
    const draftInput = draftLmFeeds(past, n);
    const inputOf = (h: { id: string; kind: string }) => {
      const context = contextFeeds.get(h.id);
      if (context) return { ...eagle2Input, context_ids: context };
      return h.kind === 'eagle3' ? eagle3Input : h.kind === 'draft' ? draftInput : eagle2Input;
    };
    for (const h of heads) for (let i = 0; i < 3; i++) await sessions.get(h.id)!.run(inputOf(h));
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const state of ['hot', 'after-target']) {
        for (const h of heads) {
          const session = sessions.get(h.id)!;
          const key = `${h.id}/${state}`;
          if (!samples.has(key)) samples.set(key, []);
          if (state === 'after-target') await target.run(verifyInput);
          else await session.run(inputOf(h));
          const t = performance.now();
          await session.run(inputOf(h));
          samples.get(key)!.push(performance.now() - t);
        }
      }
    }
    for (const [key, s] of samples) {
      const [id, state] = key.split('/') as [string, string];
      const row = { id, n, state, ...percentiles(s) };
      rows.push(row);
      process.stderr.write(
        `${id.padEnd(24)} N ${n} ${state.padEnd(12)} ${row.medianMs.toFixed(3)} ms (p10 ${row.p10Ms.toFixed(3)}, p90 ${row.p90Ms.toFixed(3)})\n`,
      );
    }
  }
  process.stdout.write(`${JSON.stringify({ past, rounds, rows }, null, 2)}\n`);
  for (const s of sessions.values()) await s.release();
  await target.release();
}

/** Feeds of the tiny draft LM (3 layers, 2 KV heads of 32): `n` new rows after `past` cached ones, all scored. */
function draftLmFeeds(past: number, n: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(5 + i * 37)),
      [1, n],
    ),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(past + i)),
      [1, n],
    ),
    attention_bias: new ort.Tensor('float32', causalBias(past, n), [1, 1, n, past + n]),
    score_rows: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]),
    top_k: new ort.Tensor('int64', BigInt64Array.of(4n), [1]),
  };
  const cache = Float32Array.from({ length: past * 2 * 32 }, (_, i) => Math.sin(i) * 0.5);
  for (let l = 0; l < 3; l++) {
    feeds[`past_key.${l}`] = new ort.Tensor('float32', cache, [1, past, 2, 32]);
    feeds[`past_value.${l}`] = new ort.Tensor('float32', cache, [1, past, 2, 32]);
  }
  return feeds;
}

await main();
