/**
 * Costs at real scale (issue 12 item 6): what a 0.6B–1B model costs per call on this CPU, and the
 * speed-up EAGLE-2 can reach with it, before anyone converts a real checkpoint. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:real-scale [--models llama-3.2-1b,qwen3-0.6b] [--formats int4,fp32]
 *     [--rounds 7] [--threads 1] [--max-rss-gb 8] [--work DIR] [--tau-from REPORT.json] [--json FILE]
 *     [--report-from REPORT.json]   (tables and projection again from an earlier report, nothing measured)
 *   (--formats takes any of fp32, fp16, int8, int4, w8a8)
 *
 * Needs the CLI built (`pnpm build`), about 10 GB of free disk under `--work` at a time (Llama fp32:
 * 2.5 GB checkpoint, 5 GB target, 2.4 GB head) and 40 minutes on a shared 2-core machine, 17 of
 * them for tau.
 * For each model it writes a synthetic bf16 checkpoint with the published shapes (random weights,
 * test/helpers/real-scale.ts) and an EAGLE-2 head for the same hidden size, converts them with
 * `treespec convert` (the head twice: full vocabulary, and FR-Spec with `--draft-vocab`), and times
 * in a child process per model file, each watched so that it is stopped past `--max-rss-gb`:
 * - a plain token (1 row) after 128, 1024 and 4096 cached rows;
 * - verifying N = 4, 8, 16, 32, 64 tree rows after 128 and 1024 cached rows (N = 1 is the plain token);
 * - one head call of 1–10 rows after 128 cached rows, full and reduced vocabulary.
 * Calls are interleaved round by round (a shared machine's drift hits all alike); each number is
 * the median wall time and the median process CPU time of `--rounds` calls after one warm-up
 * call, with the load average around it; the tables on stderr and the projection use CPU time.
 * Plain attention (the converter's default layout), `--threads` intra-op threads that do not spin. Converted files are deleted after each format.
 *
 * tau per tree size comes from `treespec bench` on the tiny family (greedy, fixed trees of
 * BUDGETS) unless `--tau-from` names an earlier report of this script. The projection is
 * speed-up = tau × t_plain / (t_draft + t_verify(N)) with t_draft = one head call over ⌈tau⌉
 * rows (the tokens accepted by the last step) plus `depth` calls over `frontier` rows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { causalBias, headCounts, noDrawFeeds } from '../src/testing/index.js';
import { seededRandom } from '../test/helpers/random.js';
import type { VariantSpec } from '../test/helpers/random-checkpoint.js';
import {
  LLAMA_3_2_1B,
  QWEN3_0_6B,
  writeStreamedCheckpoint,
  writeStreamedHeadCheckpoint,
  writeSyntheticFrequencies,
} from '../test/helpers/real-scale.js';
import { percentiles } from './decoder-feeds.js';

const MODELS: Record<string, VariantSpec> = { 'llama-3.2-1b': LLAMA_3_2_1B, 'qwen3-0.6b': QWEN3_0_6B };

/** Fixed EAGLE-2 trees (EAGLE's conventions) whose tau is measured for each verified size N. */
const BUDGETS = [
  { topK: 3, frontier: 1, depth: 2, totalTokens: 4 },
  { topK: 3, frontier: 1, depth: 4, totalTokens: 8 },
  { topK: 4, frontier: 2, depth: 4, totalTokens: 16 },
  { topK: 8, frontier: 8, depth: 4, totalTokens: 32 },
  { topK: 10, frontier: 10, depth: 5, totalTokens: 64 },
] as const;

const CONTEXTS = [128, 1024, 4096];
const VERIFY_CONTEXTS = [128, 1024];
const NODES = [1, 4, 8, 16, 32, 64];
const HEAD_CONTEXT = 128;
const HEAD_ROWS = [1, 2, 3, 4, 5, 8, 10];
const MAX_CONTEXT = 8192;
const CLI = resolve(import.meta.dirname, '../../cli/dist/bin.js');

const { values: args, positionals } = parseArgs({
  // `pnpm <script> -- --flag` passes the `--` on; options follow it here.
  args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
  allowPositionals: true,
  options: {
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    formats: { type: 'string', default: 'int4,fp32' },
    rounds: { type: 'string', default: '7' },
    threads: { type: 'string', default: '1' },
    'max-rss-gb': { type: 'string', default: '8' },
    'draft-vocab': { type: 'string', default: '4096' },
    work: { type: 'string', default: '/tmp/treespec-real-scale' },
    'tau-from': { type: 'string' },
    'report-from': { type: 'string' },
    'tau-prompts': { type: 'string', default: '39' },
    'tau-tokens': { type: 'string', default: '128' },
    json: { type: 'string' },
    // Child mode: time one converted model (`measure <file> <spec-json>`).
    kind: { type: 'string' },
  },
});

/** Median wall and process-CPU milliseconds of one kind of call. */
interface Timing {
  readonly medianMs: number;
  readonly p10Ms: number;
  readonly p90Ms: number;
  readonly cpuMedianMs: number;
}

interface TauRow {
  readonly tree: (typeof BUDGETS)[number];
  readonly tau: number;
  readonly acceptanceByDepth: readonly number[];
}

interface Measured {
  readonly kind: 'target' | 'head';
  /** `plain@P`, `verify@P/N`, `head/rows` → timing. */
  readonly timings: Record<string, Timing>;
  readonly loadMs: number;
  readonly maxRssMb: number;
  readonly loadAverage: { readonly before: readonly number[]; readonly after: readonly number[] };
}

/** Outcome of a watched child process. */
interface Watched {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly peakRssMb: number;
  readonly killedForMemory: boolean;
  readonly seconds: number;
}

/** The call that verifies `n` rows after `past`: a plain token's when `n` is 1. */
const verifyKey = (past: number, n: number) => (n === 1 ? `plain@${past}` : `verify@${past}/${n}`);

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const loads = () => loadavg().map((x) => round(x));

/**
 * Runs a command, polling its resident memory (VmHWM) every 200 ms; kills it once it passes
 * `limitMb`, so that one oversized model cannot take the shared machine's memory.
 */
function watched(command: string, commandArgs: readonly string[], limitMb: number): Promise<Watched> {
  const started = performance.now();
  const child: ChildProcess = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    process.stderr.write(d);
  });
  let peakRssMb = 0;
  let killedForMemory = false;
  const poll = setInterval(async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    peakRssMb = Math.max(peakRssMb, kb / 1024);
    if (peakRssMb > limitMb && !killedForMemory) {
      killedForMemory = true;
      child.kill('SIGKILL');
    }
  }, 200);
  return new Promise((done) => {
    child.on('close', (code) => {
      clearInterval(poll);
      done({
        code,
        stdout,
        stderr,
        peakRssMb: Math.round(peakRssMb),
        killedForMemory,
        seconds: round((performance.now() - started) / 1000, 1),
      });
    });
  });
}

/** tau of each BUDGETS tree on the tiny family: greedy `treespec bench` with a fixed tree. */
async function measureTau(work: string): Promise<TauRow[]> {
  const rows: TauRow[] = [];
  for (const tree of BUDGETS) {
    const file = join(work, `tau-${tree.totalTokens}.json`);
    const run = await watched(
      process.execPath,
      [
        CLI,
        'bench',
        '-t',
        '0',
        '--budget',
        'fixed',
        '--threads',
        '1',
        '--limit',
        args['tau-prompts']!,
        '-n',
        args['tau-tokens']!,
        '--tree-top-k',
        String(tree.topK),
        '--tree-frontier',
        String(tree.frontier),
        '--tree-depth',
        String(tree.depth),
        '--tree-tokens',
        String(tree.totalTokens),
        '--json',
        file,
      ],
      Number.POSITIVE_INFINITY,
    );
    if (run.code !== 0) throw new Error(`treespec bench failed for ${JSON.stringify(tree)}:\n${run.stderr}`);
    const report = JSON.parse(await readFile(file, 'utf8'));
    rows.push({ tree, tau: report.overall.tau, acceptanceByDepth: report.overall.acceptanceByDepth });
  }
  return rows;
}

/** Converts with the CLI under the memory watch; returns its wall time and peak memory. */
async function convert(cliArgs: readonly string[], limitMb: number): Promise<Watched> {
  const run = await watched(process.execPath, [CLI, 'convert', ...cliArgs], limitMb);
  if (run.code !== 0 && !run.killedForMemory)
    throw new Error(`treespec convert ${cliArgs.join(' ')} failed:\n${run.stderr}`);
  return run;
}

/** Bytes of the files in a directory. */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/**
 * Decoder feeds for `n` rows after `past` cached ones: one random cache block shared by every
 * layer (values do not change the cost; sharing keeps a 4096-row cache of 28 layers at one layer's
 * memory), tree positions (`past` + depth of a full binary tree's rows) and a causal bias.
 */
function feeds(
  spec: VariantSpec,
  layers: number,
  past: number,
  n: number,
  head: boolean,
): Record<string, ort.Tensor> {
  const random = seededRandom(past * 131 + n);
  const fill = (length: number) => Float32Array.from({ length }, () => random() - 0.5);
  const kvShape = [1, past, spec.kvHeads, spec.headDim];
  const cache = new ort.Tensor('float32', fill(past * spec.kvHeads * spec.headDim), kvShape);
  const out: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(5 + ((i * 7919) % spec.vocab))),
      [1, n],
    ),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: n }, (_, i) => BigInt(past + Math.floor(Math.log2(i + 1)))),
      [1, n],
    ),
    attention_bias: new ort.Tensor('float32', causalBias(past, n), [1, 1, n, past + n]),
  };
  for (let l = 0; l < layers; l++) {
    out[`past_key.${l}`] = cache;
    out[`past_value.${l}`] = cache;
  }
  if (head) {
    out.feature = new ort.Tensor('float32', fill(n * spec.hidden), [1, n, spec.hidden]);
    Object.assign(out, headCounts(10, n));
  } else {
    out.score_rows = new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]); // a verification: every row
    // ...reading its logits: the graph draws no tokens itself.
    Object.assign(out, noDrawFeeds());
  }
  return out;
}

/** Child mode: loads one model file and times its calls, interleaved round by round. */
async function measure(file: string, spec: VariantSpec, kind: 'target' | 'head'): Promise<Measured> {
  const before = loads();
  const threads = Number(args.threads);
  const started = performance.now();
  const session = await ort.InferenceSession.create(file, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const loadMs = round(performance.now() - started, 0);
  const calls = new Map<string, Record<string, ort.Tensor>>();
  if (kind === 'target') {
    for (const past of CONTEXTS) calls.set(`plain@${past}`, feeds(spec, spec.layers, past, 1, false));
    for (const past of VERIFY_CONTEXTS)
      for (const n of NODES)
        if (n > 1) calls.set(verifyKey(past, n), feeds(spec, spec.layers, past, n, false));
  } else {
    for (const rows of HEAD_ROWS) calls.set(`head/${rows}`, feeds(spec, 1, HEAD_CONTEXT, rows, true));
  }
  const fetches = kind === 'target' ? ['logits'] : ['top_log_probs', 'top_ids'];
  const wall = new Map<string, number[]>([...calls.keys()].map((k) => [k, []]));
  const cpu = new Map<string, number[]>([...calls.keys()].map((k) => [k, []]));
  const rounds = Number(args.rounds);
  for (let r = -1; r < rounds; r++) {
    for (const [key, input] of calls) {
      const cpuStart = process.cpuUsage();
      const t = performance.now();
      await session.run(input, fetches);
      const ms = performance.now() - t;
      const used = process.cpuUsage(cpuStart);
      if (r < 0) continue;
      wall.get(key)!.push(ms);
      cpu.get(key)!.push((used.user + used.system) / 1000);
    }
  }
  await session.release();
  const timings: Record<string, Timing> = {};
  for (const key of calls.keys()) {
    const w = percentiles(wall.get(key)!);
    timings[key] = {
      medianMs: round(w.medianMs),
      p10Ms: round(w.p10Ms),
      p90Ms: round(w.p90Ms),
      cpuMedianMs: round(percentiles(cpu.get(key)!).medianMs),
    };
  }
  return {
    kind,
    timings,
    loadMs,
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    loadAverage: { before, after: loads() },
  };
}

/** Times one model file in a watched child process (this script in `measure` mode). */
async function measureInChild(
  file: string,
  spec: VariantSpec,
  kind: 'target' | 'head',
  limitMb: number,
): Promise<Measured | { skipped: string; peakRssMb: number }> {
  const run = await watched(
    process.execPath,
    [
      '--import',
      'tsx',
      import.meta.filename,
      'measure',
      file,
      JSON.stringify(spec),
      '--kind',
      kind,
      '--rounds',
      args.rounds!,
      '--threads',
      args.threads!,
    ],
    limitMb,
  );
  if (run.killedForMemory)
    return { skipped: `stopped above ${limitMb} MB resident`, peakRssMb: run.peakRssMb };
  if (run.code !== 0) throw new Error(`measuring ${file} failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as Measured;
}

type Outcome = Measured | { skipped: string; peakRssMb: number };
const isMeasured = (o: Outcome | undefined): o is Measured => o !== undefined && 'timings' in o;

/** One model in one weight format: conversions, timings of the target and both heads. */
interface FormatReport {
  readonly model: string;
  readonly format: string;
  readonly conversions: Record<
    string,
    { seconds: number; peakRssMb: number; bytes: number | null; skipped?: string }
  >;
  readonly target?: Outcome;
  readonly heads: Record<string, Outcome>;
}

async function runModel(
  name: string,
  spec: VariantSpec,
  work: string,
  limitMb: number,
): Promise<FormatReport[]> {
  const dir = join(work, name);
  await rm(dir, { recursive: true, force: true });
  const hf = join(dir, 'hf');
  const headHf = join(dir, 'head-hf');
  const frequencies = join(dir, 'frequencies.json');
  process.stderr.write(`${name}: writing the synthetic checkpoint\n`);
  await writeStreamedCheckpoint(hf, spec);
  await writeStreamedHeadCheckpoint(headHf, spec, spec.seed + 100);
  await writeSyntheticFrequencies(frequencies, hf, spec.vocab, spec.seed + 200);
  const k = args['draft-vocab']!;
  const reports: FormatReport[] = [];
  for (const format of args.formats!.split(',')) {
    const out = join(dir, `onnx-${format}`);
    const common = ['-o', out, '--weights', format, '--max-context', String(MAX_CONTEXT)];
    const jobs: Array<{ id: string; kind: 'target' | 'head'; cli: string[] }> = [
      { id: 'target', kind: 'target', cli: [hf, ...common] },
      { id: 'eagle-head', kind: 'head', cli: [headHf, '-r', 'eagle-head', '-t', hf, ...common] },
      {
        id: `eagle-head-k${k}`,
        kind: 'head',
        cli: [
          headHf,
          '-r',
          'eagle-head',
          '-t',
          hf,
          '--id',
          `eagle-head-k${k}`,
          '--draft-vocab',
          k,
          '--draft-vocab-corpus',
          frequencies,
          ...common,
        ],
      },
    ];
    const report: FormatReport = { model: name, format, conversions: {}, heads: {} };
    for (const job of jobs) {
      process.stderr.write(`${name} ${format}: converting ${job.id}\n`);
      const run = await convert(job.cli, limitMb);
      const file = join(out, `${job.id}.onnx`);
      if (run.killedForMemory) {
        report.conversions[job.id] = {
          seconds: run.seconds,
          peakRssMb: run.peakRssMb,
          bytes: null,
          skipped: `stopped above ${limitMb} MB resident`,
        };
        continue;
      }
      const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
      const entry = manifest.models.find((m: { id: string }) => m.id === job.id);
      let bytes = (await stat(file)).size;
      for (const data of entry.externalData as string[]) bytes += (await stat(join(out, data))).size;
      report.conversions[job.id] = { seconds: run.seconds, peakRssMb: run.peakRssMb, bytes };
      process.stderr.write(`${name} ${format}: timing ${job.id}\n`);
      const measured = await measureInChild(file, spec, job.kind, limitMb);
      if (job.kind === 'target') Object.assign(report, { target: measured });
      else report.heads[job.id] = measured;
      await rm(file, { force: true });
      for (const data of entry.externalData as string[]) await rm(join(out, data), { force: true });
    }
    process.stderr.write(`${name} ${format}: ${(await directoryBytes(out)) / 1e6} MB left, removing\n`);
    await rm(out, { recursive: true, force: true });
    reports.push(report);
  }
  await rm(dir, { recursive: true, force: true });
  return reports;
}

/** One projected speed-up: a model, format, head, context and tree size. */
interface Projection {
  readonly model: string;
  readonly format: string;
  readonly head: string;
  readonly past: number;
  readonly n: number;
  readonly tau: number;
  readonly plainMs: number;
  readonly draftMs: number;
  readonly verifyMs: number;
  readonly speedup: number;
}

/**
 * speed-up = tau × t_plain / (t_draft + t_verify(N)) for every measured combination, from process
 * CPU medians: on a shared machine they count the work a call does, where wall time also counts
 * the waits for a core.
 */
function project(reports: readonly FormatReport[], taus: readonly TauRow[]): Projection[] {
  const out: Projection[] = [];
  for (const r of reports) {
    if (!isMeasured(r.target)) continue;
    const t = r.target.timings;
    for (const [head, measured] of Object.entries(r.heads)) {
      if (!isMeasured(measured)) continue;
      // A call over the smallest measured row count that holds `rows`.
      const measuredRows = Object.keys(measured.timings)
        .map((key) => Number(key.split('/')[1]))
        .sort((x, y) => x - y);
      const h = (rows: number) =>
        measured.timings[`head/${measuredRows.find((r) => r >= rows) ?? measuredRows.at(-1)}`]!.cpuMedianMs;
      for (const past of VERIFY_CONTEXTS) {
        const plainMs = t[`plain@${past}`]!.cpuMedianMs;
        for (const n of NODES) {
          const budget = taus.find((x) => x.tree.totalTokens === n);
          const tau = budget?.tau ?? 1;
          const draftMs = budget ? h(Math.ceil(tau)) + budget.tree.depth * h(budget.tree.frontier) : 0;
          const verifyMs = t[verifyKey(past, n)]!.cpuMedianMs;
          out.push({
            model: r.model,
            format: r.format,
            head,
            past,
            n,
            tau: round(tau),
            plainMs,
            draftMs: round(draftMs),
            verifyMs,
            speedup: round((tau * plainMs) / (draftMs + verifyMs)),
          });
        }
      }
    }
  }
  return out;
}

/** Markdown tables of the report, for docs/benchmarks.md. */
function markdown(reports: readonly FormatReport[], projections: readonly Projection[]): string {
  const lines: string[] = [];
  const ms = (o: Outcome | undefined, key: string) =>
    isMeasured(o) ? (o.timings[key]?.cpuMedianMs.toFixed(1) ?? '—') : '—';
  lines.push(
    '| model | weights | file GB | plain @128 | @1024 | @4096 | verify @128: N=1 | 4 | 8 | 16 | 32 | 64 | verify @1024: N=8 | 64 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of reports) {
    const bytes = r.conversions.target?.bytes;
    lines.push(
      `| ${r.model} | ${r.format} | ${bytes ? (bytes / 1e9).toFixed(2) : '—'} | ${CONTEXTS.map((p) => ms(r.target, `plain@${p}`)).join(' | ')} | ${NODES.map((n) => ms(r.target, verifyKey(128, n))).join(' | ')} | ${ms(r.target, 'verify@1024/8')} | ${ms(r.target, 'verify@1024/64')} |`,
    );
  }
  lines.push(
    '',
    '| model | weights | head | file GB | rows 1 | 2 | 4 | 8 | 10 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of reports)
    for (const [head, o] of Object.entries(r.heads)) {
      const bytes = r.conversions[head]?.bytes;
      lines.push(
        `| ${r.model} | ${r.format} | ${head} | ${bytes ? (bytes / 1e9).toFixed(2) : '—'} | ${[1, 2, 4, 8, 10].map((n) => ms(o, `head/${n}`)).join(' | ')} |`,
      );
    }
  lines.push(
    '',
    '| model | weights | head | context | N | tau | plain ms | draft ms | verify ms | speed-up |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const p of projections)
    lines.push(
      `| ${p.model} | ${p.format} | ${p.head} | ${p.past} | ${p.n} | ${p.tau.toFixed(2)} | ${p.plainMs.toFixed(1)} | ${p.draftMs.toFixed(1)} | ${p.verifyMs.toFixed(1)} | ${p.speedup.toFixed(2)}× |`,
    );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const work = resolve(args.work!);
  await mkdir(work, { recursive: true });
  const limitMb = Number(args['max-rss-gb']) * 1024;
  const started = { time: new Date().toISOString(), loadAverage: loads() };
  const taus: TauRow[] = args['tau-from']
    ? JSON.parse(await readFile(args['tau-from'], 'utf8')).tau
    : await measureTau(work);
  const reports: FormatReport[] = args['report-from']
    ? JSON.parse(await readFile(args['report-from'], 'utf8')).reports
    : [];
  for (const name of args['report-from'] ? [] : args.models!.split(',')) {
    const spec = MODELS[name];
    if (!spec) throw new Error(`unknown model "${name}"; known: ${Object.keys(MODELS).join(', ')}`);
    reports.push(...(await runModel(name, spec, work, limitMb)));
    if (args.json)
      await writeFile(args.json, `${JSON.stringify({ started, tau: taus, reports }, null, 2)}\n`);
  }
  const projections = project(reports, taus);
  const report = {
    onnxruntime: `${ort.env.versions.common} (onnxruntime-node, CPU EP, graphOptimizationLevel all, no spinning)`,
    node: process.version,
    threads: Number(args.threads),
    rounds: Number(args.rounds),
    started,
    finished: { time: new Date().toISOString(), loadAverage: loads() },
    note: 'medians of wall ms (cpuMedianMs: process CPU ms) per call after one warm-up call; synthetic bf16 checkpoints with the published shapes; tau from the tiny family; projections from CPU medians',
    tau: taus,
    reports,
    projections,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (args.json) await writeFile(args.json, json);
  process.stdout.write(json);
  process.stderr.write(`\n${markdown(reports, projections)}\n`);
}

if (positionals[0] === 'measure') {
  const [, file, spec] = positionals;
  process.stdout.write(
    JSON.stringify(await measure(file!, JSON.parse(spec!), args.kind as 'target' | 'head')),
  );
} else {
  await main();
}
