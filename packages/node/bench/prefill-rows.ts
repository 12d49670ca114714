/**
 * What a prefill chunk of the tiny target costs with its lm_head over every row against over its
 * last row only: the same session (opened as the loader opens it) fed `score_rows` = rows, as every
 * prefill was before targets took that input, and `score_rows` = 1, as the runner feeds a prefill
 * now. Chunks of `rows` new rows after `past` cached ones, the two alternating call by call;
 * milliseconds of wall time, medians. Prints one JSON report. Not a test.
 *
 *   pnpm -s --filter @treespec/node bench:prefill [-- --rounds 24 --threads N]
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeCausalBias } from '@treespec/core';
import { causalLmLayout } from '@treespec/onnx';
import { Tensor } from 'onnxruntime-common';
import { createSession } from '../src/index.js';
import { targetEntry } from '../test/converted-target.js';
import { TINY } from '../test/tiny.js';
import { median } from './median.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    rounds: { type: 'string', default: '24' },
    threads: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const layout = causalLmLayout(targetEntry(TINY));
const { names, kvHeads, headDim } = layout;
if (!names.scoreRows)
  throw new Error('the tiny target has no score_rows input: rebuild @treespec/model-tiny');
const session = await createSession(
  join(TINY, 'target.onnx'),
  values.threads ? { intraOpNumThreads: Number(values.threads) } : {},
);
const fetches = [...names.presentKeys, ...names.presentValues];

/** A causal prefill chunk's feeds: `rows` new rows after `past` cached ones, `scored` rows scored. */
function feeds(past: number, rows: number, scored: number): Record<string, Tensor> {
  const width = past + rows;
  const bias = new Float32Array(rows * width);
  writeCausalBias(past, rows, bias);
  const f: Record<string, Tensor> = {
    [names.inputIds]: new Tensor(
      'int64',
      BigInt64Array.from({ length: rows }, (_, i) => BigInt(5 + ((i * 37) % 8000))),
      [1, rows],
    ),
    [names.positionIds]: new Tensor(
      'int64',
      BigInt64Array.from({ length: rows }, (_, i) => BigInt(past + i)),
      [1, rows],
    ),
    [names.attentionBias]: new Tensor('float32', bias, [1, 1, rows, width]),
    [names.scoreRows!]: new Tensor('int64', BigInt64Array.of(BigInt(scored)), [1]),
    [names.sampler!.uniforms]: new Tensor('float32', new Float32Array(0), [0, 2]),
    [names.sampler!.temperature]: new Tensor('float32', Float32Array.of(1), [1]),
  };
  const cache = new Tensor('float32', new Float32Array(past * kvHeads * headDim).fill(0.01), [
    1,
    past,
    kvHeads,
    headDim,
  ]);
  for (const name of [...names.pastKeys, ...names.pastValues]) f[name] = cache;
  return f;
}

const chunks = [];
for (const [past, rows] of [
  [0, 128],
  [384, 128],
  [0, 32],
] as const) {
  const every = feeds(past, rows, rows);
  const last = feeds(past, rows, 1);
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    for (const k of r % 2 ? [0, 1] : [1, 0]) {
      const started = performance.now();
      await session.run(k === 0 ? every : last, fetches);
      if (r > 1) times[k]!.push(performance.now() - started);
    }
  }
  const [everyMs, lastMs] = times.map(median) as [number, number];
  chunks.push({ past, rows, everyRowScoredMs: everyMs, lastRowScoredMs: lastMs, ratio: lastMs / everyMs });
}
await session.release();
console.log(JSON.stringify({ loadAverage: loadavg(), rounds, chunks }, null, 2));
