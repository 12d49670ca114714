/**
 * What scoring only the rows a call needs saves on a commit: one call of the tiny bundle's EAGLE
 * heads (int8 and fp32 EAGLE-2, EAGLE-3) and int8 draft LM committing N rows after `past` cached
 * ones, with `score_rows` N (every row scored, what every commit paid before) and 1 (the newest
 * row only, what the runners feed a commit now), on onnxruntime-node's CPU execution provider.
 * Calls are interleaved call by call so drift of a shared machine hits all alike (medians), each
 * timed hot (right after the same call) and right after a target call (caches cold, as in
 * decoding). Not a test.
 *
 *   pnpm -s --filter @treespec/convert exec tsx bench/head-rows.ts [--rows 1,3,32] [--rounds 40] [--past 200]
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { decoderFeeds, ONE_THREAD_SESSION, percentiles } from './decoder-feeds.js';

const { values: args } = parseArgs({
  options: {
    bundle: { type: 'string', default: resolve(import.meta.dirname, '../../model-tiny/models/tiny') },
    rows: { type: 'string', default: '1,3,32' },
    rounds: { type: 'string', default: '40' },
    past: { type: 'string', default: '200' },
  },
});

type Kind = 'eagle2' | 'eagle3' | 'draft';

const MODELS: ReadonlyArray<{ id: string; kind: Kind }> = [
  { id: 'eagle-head', kind: 'eagle2' },
  { id: 'eagle-head-fp32', kind: 'eagle2' },
  { id: 'eagle3-head', kind: 'eagle3' },
  { id: 'draft-int8', kind: 'draft' },
];

/** Feeds of a commit of `n` rows after `past` for a model of `kind`, scoring the last `scored`. */
function commitFeeds(kind: Kind, past: number, n: number, scored: number): Record<string, ort.Tensor> {
  const feeds = decoderFeeds(kind === 'draft' ? 3 : 1, past, n, kind !== 'draft');
  if (kind === 'draft') {
    // The tiny draft LM: 3 layers of 2 KV heads of 32, no features; its in-graph top-4.
    feeds.top_k = new ort.Tensor('int64', BigInt64Array.of(4n), [1]);
    const cache = Float32Array.from({ length: past * 2 * 32 }, (_, i) => Math.sin(i) * 0.5);
    for (let l = 0; l < 3; l++) {
      feeds[`past_key.${l}`] = new ort.Tensor('float32', cache, [1, past, 2, 32]);
      feeds[`past_value.${l}`] = new ort.Tensor('float32', cache, [1, past, 2, 32]);
    }
  }
  if (kind === 'eagle3') {
    // A commit feeds the target's 3 captured layer states per row and no draft rows.
    feeds.feature = new ort.Tensor(
      'float32',
      Float32Array.from({ length: n * 3 * 384 }, (_, i) => Math.sin(i * 0.01) * 2),
      [1, n, 3 * 384],
    );
    feeds.draft_hidden = new ort.Tensor('float32', new Float32Array(0), [1, 0, 384]);
  }
  feeds.score_rows = new ort.Tensor('int64', BigInt64Array.of(BigInt(scored)), [1]);
  return feeds;
}

async function main(): Promise<void> {
  const bundle = args.bundle!;
  const options = ONE_THREAD_SESSION;
  const sessions = new Map<string, ort.InferenceSession>();
  for (const m of MODELS)
    sessions.set(m.id, await ort.InferenceSession.create(join(bundle, `${m.id}.onnx`), options));
  const target = await ort.InferenceSession.create(join(bundle, 'target.onnx'), options);
  const past = Number(args.past);
  const rounds = Number(args.rounds);
  const verifyInput = decoderFeeds(8, past, 8, false);
  const rows: Array<{ id: string; n: number; scored: number; state: string; medianMs: number }> = [];
  for (const n of args.rows!.split(',').map(Number)) {
    const cases = MODELS.flatMap((m) =>
      [...new Set([n, 1])].map((scored) => ({ ...m, scored, feeds: commitFeeds(m.kind, past, n, scored) })),
    );
    for (const c of cases) for (let i = 0; i < 3; i++) await sessions.get(c.id)!.run(c.feeds);
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const state of ['hot', 'after-target']) {
        for (const c of cases) {
          const session = sessions.get(c.id)!;
          const key = `${c.id}/${c.scored}/${state}`;
          if (!samples.has(key)) samples.set(key, []);
          if (state === 'after-target') await target.run(verifyInput);
          else await session.run(c.feeds);
          const t = performance.now();
          await session.run(c.feeds);
          samples.get(key)!.push(performance.now() - t);
        }
      }
    }
    for (const [key, s] of samples) {
      const [id, scored, state] = key.split('/') as [string, string, string];
      const { medianMs, p10Ms, p90Ms } = percentiles(s);
      rows.push({ id, n, scored: Number(scored), state, medianMs });
      process.stderr.write(
        `${id.padEnd(16)} N ${String(n).padStart(2)} score_rows ${scored.padStart(2)} ${state.padEnd(12)} ${medianMs.toFixed(3)} ms (p10 ${p10Ms.toFixed(3)}, p90 ${p90Ms.toFixed(3)})\n`,
      );
    }
  }
  process.stdout.write(`${JSON.stringify({ past, rounds, rows }, null, 2)}\n`);
  for (const s of sessions.values()) await s.release();
  await target.release();
}

await main();
