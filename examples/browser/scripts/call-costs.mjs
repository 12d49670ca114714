// Times single model calls of the tiny bundle on the two runtimes the page and Node use, in one
// process, interleaved call by call: the target verifying N rows after a cached context (N = 1 is
// a plain token) and the EAGLE-2 head drafting `rows` rows, on onnxruntime-web's WASM build (the
// same .wasm file and session options as the page, here run by Node's V8 with worker threads
// for its thread pool) and on onnxruntime-node's CPU provider. Reports min, p25 and median
// milliseconds per call and each call's cost in plain tokens (p25 over p25) as JSON. The machine's
// load moves medians; the minimum and p25 are the steadier columns.
//
// `--heads` names the head models to time (manifest ids, default the fp32 EAGLE-2 head the page
// runs on WASM), `--dir` another bundle directory than the tiny one (a copy holding more heads); a
// head that scores context tokens gets `--context-ids` of them (default 40).
//
//   node scripts/call-costs.mjs [--threads 2] [--head-threads 1] [--past 100] [--rounds 40]
//     [--heads eagle-head-fp32,...] [--context-ids 40] [--dir BUNDLE] [--out FILE]
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { createSession } from '@treespec/node';
import { createWebSession } from '@treespec/web/internal';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    threads: { type: 'string', default: '2' },
    'head-threads': { type: 'string', default: '1' },
    past: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '40' },
    heads: { type: 'string', default: 'eagle-head-fp32' },
    'context-ids': { type: 'string', default: '40' },
    dir: { type: 'string' },
    out: { type: 'string' },
  },
});
const threads = Number(args.threads);
const headThreads = Number(args['head-threads']);
const past = Number(args.past);
const rounds = Number(args.rounds);
const dir = args.dir ?? tinyModelDirectory();
const manifest = JSON.parse(await readFile(join(dir, 'treespec.json'), 'utf8'));
const modelOf = (id) => {
  const model = manifest.models.find((m) => m.id === id);
  if (!model) throw new Error(`no model '${id}' in ${join(dir, 'treespec.json')}`);
  return model;
};
const target = modelOf('target');
const heads = args.heads.split(',').map(modelOf);
const { layers, kvHeads, headDim, hidden } = target.dims;

// onnxruntime-web's build for Node (the same .wasm as the page's, its threads on worker_threads).
const fromWeb = createRequire(fileURLToPath(import.meta.resolve('@treespec/web')));
const web = await import(join(dirname(fromWeb.resolve('onnxruntime-web')), 'ort.node.min.mjs'));
web.env.wasm.numThreads = threads;
async function openWeb(model, intraOpNumThreads) {
  const bytes = await readFile(join(dir, model.file));
  const externalData = await Promise.all(
    model.externalData.map(async (f) => ({ path: f, data: await readFile(join(dir, f)) })),
  );
  return createWebSession(
    web,
    { url: model.file, bytes, externalData },
    { provider: 'wasm', intraOpNumThreads },
  );
}
const openNode = (model, role) =>
  createSession(join(dir, model.file), { intraOpNumThreads: threads, drafterThreads: headThreads }, role);

/**
 * A head's context tokens (`--context-ids` of them, ids outside its draft vocabulary from the top of
 * the vocabulary down), for heads that take them.
 */
function contextIds(Tensor, head) {
  const draft = new Set(head.draftVocab.targetIds);
  const ids = [];
  for (let t = head.dims.vocab - 1; ids.length < Number(args['context-ids']); t--)
    if (!draft.has(t)) ids.push(BigInt(t));
  return new Tensor('int64', BigInt64Array.from(ids), [ids.length]);
}

/** Feeds of a call with `rows` new rows after `past` cached ones, built with a runtime's Tensor class. */
function feeds(Tensor, rows, cachedLayers, extra = {}) {
  const f = {
    input_ids: new Tensor('int64', new BigInt64Array(rows).fill(5n), [1, rows]),
    position_ids: new Tensor(
      'int64',
      BigInt64Array.from({ length: rows }, (_, i) => BigInt(past + i)),
      [1, rows],
    ),
    attention_bias: new Tensor('float32', new Float32Array(rows * (past + rows)), [1, 1, rows, past + rows]),
    ...extra,
  };
  for (let l = 0; l < cachedLayers; l++) {
    for (const name of ['past_key', 'past_value']) {
      f[`${name}.${l}`] = new Tensor('float32', new Float32Array(past * kvHeads * headDim).fill(0.01), [
        1,
        past,
        kvHeads,
        headDim,
      ]);
    }
  }
  return f;
}

const runtimes = [
  {
    name: 'wasm',
    Tensor: web.Tensor,
    target: await openWeb(target, threads),
    heads: await Promise.all(heads.map((head) => openWeb(head, headThreads))),
  },
  {
    name: 'cpu',
    Tensor: (
      await import(
        createRequire(fileURLToPath(import.meta.resolve('@treespec/node'))).resolve('onnxruntime-common')
      )
    ).Tensor,
    target: await openNode(target, 'target'),
    heads: await Promise.all(heads.map((head) => openNode(head, 'drafter'))),
  },
];
const cases = [];
for (const rt of runtimes) {
  const targetFetches = rt.target.outputNames.filter((n) => n !== 'captured_feature');
  for (const n of [1, 2, 3, 4, 6, 8, 16]) {
    cases.push({
      runtime: rt.name,
      call: 'target',
      rows: n,
      session: rt.target,
      fetches: targetFetches,
      // a verification: every row scored (a target converted before score_rows ignores it)
      feeds: feeds(rt.Tensor, n, layers, {
        score_rows: new rt.Tensor('int64', BigInt64Array.from([BigInt(n)]), [1]),
        // its logits read: the target draws no tokens itself
        ...(rt.target.inputNames.includes('sample_uniforms')
          ? {
              sample_uniforms: new rt.Tensor('float32', new Float32Array(0), [0, 2]),
              sample_temperature: new rt.Tensor('float32', Float32Array.from([1]), [1]),
            }
          : {}),
      }),
    });
  }
  for (const [h, session] of rt.heads.entries()) {
    const headFetches = session.outputNames.filter((n) => n !== 'logits');
    for (const n of [1, 2, 4, 8]) {
      const extra = {
        feature: new rt.Tensor('float32', new Float32Array(n * hidden).fill(0.1), [1, n, hidden]),
        top_k: new rt.Tensor('int64', BigInt64Array.from([8n]), [1]),
        // a draft call: every row scored
        score_rows: new rt.Tensor('int64', BigInt64Array.from([BigInt(n)]), [1]),
        ...(heads[h].inputs.contextIds
          ? { [heads[h].inputs.contextIds]: contextIds(rt.Tensor, heads[h]) }
          : {}),
      };
      cases.push({
        runtime: rt.name,
        call: heads[h].id,
        rows: n,
        session,
        fetches: headFetches,
        feeds: feeds(rt.Tensor, n, 1, extra),
      });
    }
  }
}

const loadBefore = loadavg();
for (const c of cases) for (let i = 0; i < 3; i++) await c.session.run(c.feeds, c.fetches);
const times = cases.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (const [i, c] of cases.entries()) {
    const t0 = performance.now();
    await c.session.run(c.feeds, c.fetches);
    times[i].push(performance.now() - t0);
  }
}
const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const at = (xs, q) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))];
const rows = cases.map((c, i) => ({
  runtime: c.runtime,
  call: c.call,
  rows: c.rows,
  min: at(times[i], 0),
  p25: at(times[i], 0.25),
  median: at(times[i], 0.5),
}));
const plainOf = (runtime) => rows.find((r) => r.runtime === runtime && r.call === 'target' && r.rows === 1);
const report = {
  threads,
  headThreads,
  past,
  rounds,
  loadAverage: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
  calls: rows.map((r) => ({
    runtime: r.runtime,
    call: r.call,
    rows: r.rows,
    minMs: round(r.min),
    p25Ms: round(r.p25),
    medianMs: round(r.median),
    plainTokens: round(r.p25 / plainOf(r.runtime).p25, 2),
  })),
};
for (const rt of runtimes) {
  await rt.target.release();
  for (const session of rt.heads) await session.release();
}
const json = JSON.stringify(report, null, 2);
console.log(json);
if (args.out) await writeFile(args.out, `${json}\n`);
process.exit(0);
