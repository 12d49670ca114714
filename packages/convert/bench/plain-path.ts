/**
 * Where a plain token's time goes on the tiny target, per graph variant and weight format, on
 * onnxruntime-node's CPU provider. Three parts, in one process:
 *
 * 1. `calls`: process CPU and wall milliseconds per call through the real runner (`OnnxCausalLm`:
 *    a plain token = a 1-node verify + its commit, and a 10-node tree) at 100 and 1000 cached
 *    tokens (the cache is cut back after each commit, so every call sees the same context), and
 *    the bare `session.run` on prebuilt feeds of the same shapes (fetching every output, and the
 *    logits alone: the difference is what the binding's copies of 16 cache outputs cost); variants interleaved round by
 *    round so that a shared machine's drift hits them alike.
 * 2. `profile`: ONNX Runtime's own profiler (`enableProfiling`) on a plain token at 100 cached
 *    tokens: milliseconds per call inside `model_run`, the sum of kernel times, per operator type,
 *    and the node count after ONNX Runtime's graph optimisations. (The profiler adds its own
 *    cost per node; the split between operators is what it is for.)
 * 3. `js`: the runner's JavaScript work per plain token, timed alone: building the feeds,
 *    writing the attention bias, and a commit's KV copy.
 *
 * Beside the variants, a `weights-only` model per format holds nothing but the target's 33 linear
 * layers (the same shapes and weight format, random values, every one fed the same row): the cost
 * of streaming the weights through ONNX Runtime's kernels, which no graph change can remove.
 *
 * JSON on stdout, a table on stderr. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:plain [--variants before,default] [--formats fp32,int8] [--threads 1,2] [--rounds 20] [--burst 8]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DraftTree, KeepPlan, writeAttentionBias } from '@treespec/core';
import { causalLmLayout, OnnxCausalLm, type WeightFormatName } from '@treespec/onnx';
import { HeadMajorKvCache } from '@treespec/onnx/internal';
import * as ort from 'onnxruntime-node';
import { weightFormatNamed } from '../src/convert-options.js';
import { type AttentionKind, convertCausalLM, type GraphOptions } from '../src/index.js';
import { matrixOf } from '../src/matrix.js';
import { writeModelFile } from '../src/model-file.js';
import { OnnxDataType } from '../src/onnx-proto.js';
import { seededRandom } from '../test/helpers/random.js';
import { decoderFeeds, percentiles } from './decoder-feeds.js';

/** A graph variant and the session options it runs with. */
interface Variant {
  readonly graph: Partial<GraphOptions>;
  readonly attention?: AttentionKind;
  readonly session?: ort.InferenceSession.SessionOptions;
}

/** `before` is the graph of the previous release (primitive RMSNorm and RoPE). */
const VARIANTS: Record<string, Variant> = {
  before: { graph: { norm: 'primitive', rope: 'primitive' } },
  'no-skip-norm': { graph: { norm: 'primitive' } },
  'no-fused-rope': { graph: { rope: 'primitive' } },
  default: { graph: {} },
  fused: { graph: {}, attention: 'fused' },
  'in-place': { graph: {}, attention: 'in-place' },
  'no-mem-pattern': { graph: {}, session: { enableMemPattern: false } },
  'no-arena': { graph: {}, session: { enableCpuMemArena: false } },
  'float32-sums': { graph: { attentionPrecision: 'float32' } },
  'float64-sums': { graph: { attentionPrecision: 'float64' } },
};

const { values: args } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: resolve(import.meta.dirname, '../../model-tiny/checkpoints') },
    variants: { type: 'string', default: 'before,default' },
    formats: { type: 'string', default: 'fp32,int8' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '20' },
    burst: { type: 'string', default: '8' },
  },
});

/** The tiny target's linear layers [out, in]: per layer q/k/v, o, gate/up, down; then the lm_head. */
const LINEAR_SHAPES: readonly (readonly [number, number])[] = [
  ...(Array.from({ length: 8 }, () => [
    [640, 384],
    [384, 384],
    [2048, 384],
    [384, 1024],
  ]).flat() as [number, number][]),
  [8192, 384],
];

/** Writes `weights-only.onnx` (see the file comment): inputs `x` [N, 384] and `x_wide` [N, 1024]. */
async function writeWeightsOnly(dir: string, id: string, format: WeightFormatName): Promise<string> {
  const weights = weightFormatNamed(format);
  const random = seededRandom(7);
  const { file } = await writeModelFile(dir, id, async (g) => {
    const x = g.input('x', OnnxDataType.FLOAT, ['n', 384]);
    const wide = g.input('x_wide', OnnxDataType.FLOAT, ['n', 1024]);
    for (const [i, [rows, cols]] of LINEAR_SHAPES.entries()) {
      const data = Float32Array.from({ length: rows * cols }, () => (random() - 0.5) * 0.1);
      const y = await weights.linear(g, cols === 1024 ? wide : x, matrixOf(`w${i}`, rows, cols, data), null);
      g.output(y, `y${i}`, OnnxDataType.FLOAT, ['n', rows]);
    }
  });
  return join(dir, file);
}

/** The calls measured: cached tokens and tree nodes. */
const SHAPES = [
  { past: 100, nodes: 1 },
  { past: 1000, nodes: 1 },
  { past: 100, nodes: 10 },
] as const;

/** A 10-node tree shaped like the default CPU budget's: a chain of 5 with side branches. */
function treeOf(nodes: number): DraftTree {
  const tree = new DraftTree(nodes);
  tree.reset(100);
  for (let i = 1; i < nodes; i++) tree.add(i < 6 ? i - 1 : i - 5, 100 + i, 0);
  return tree;
}

interface Model {
  readonly id: string;
  readonly variant: string;
  readonly format: string;
  readonly file: string;
  readonly session: ort.InferenceSession.SessionOptions;
  readonly layout: ReturnType<typeof causalLmLayout>;
}

interface CallRow {
  variant: string;
  format: string;
  threads: number;
  /**
   * `session`: bare run, every output fetched; `logits-only`: bare run fetching the logits alone;
   * `weights-only`: the format's weights-only model (variant `weights-only`).
   */
  path: 'runner' | 'session' | 'logits-only' | 'weights-only';
  past: number;
  nodes: number;
  cpuMs: number;
  wallMs: number;
  calls: number;
}

const KEEP_ONE = (() => {
  const plan = new KeepPlan(1);
  plan.slots[0] = 0;
  plan.count = 1;
  return plan;
})();

async function runnerFor(model: Model, threads: number): Promise<OnnxCausalLm> {
  const session = await ort.InferenceSession.create(model.file, {
    ...model.session,
    intraOpNumThreads: threads,
    // Several sessions are open at once here: spinning pools would steal the cores from each other.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const runner = new OnnxCausalLm(session, model.layout, { maxContext: 2048 });
  const longest = Math.max(...SHAPES.map((s) => s.past));
  await runner.prefill(Int32Array.from({ length: longest }, (_, i) => 10 + ((i * 37) % 4000)));
  return runner;
}

/**
 * Part 1: CPU and wall ms per call, runner and bare session. Bursts of `burst` calls alternate
 * with the other variants' and shapes' (one runner per model, its cache cut back to the shape's
 * context before each call), so that a shared machine's drift hits them alike while a burst
 * runs with its weights as warm in the caches as decoding would have them; medians per call.
 */
async function timeCalls(
  models: Model[],
  floors: Map<string, string>,
  threads: number,
  rounds: number,
  burst: number,
): Promise<CallRow[]> {
  const runners = new Map<string, OnnxCausalLm>();
  for (const model of models) runners.set(model.id, await runnerFor(model, threads));
  const floorSessions = new Map<string, ort.InferenceSession>();
  for (const [format, file] of floors)
    floorSessions.set(
      format,
      await ort.InferenceSession.create(file, {
        intraOpNumThreads: threads,
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      }),
    );
  const rowsIn = (n: number, width: number) =>
    new ort.Tensor('float32', new Float32Array(n * width).fill(0.1), [n, width]);
  const floorFeeds = SHAPES.map(({ nodes }) => ({ x: rowsIn(nodes, 384), x_wide: rowsIn(nodes, 1024) }));
  const feeds = SHAPES.map(({ past, nodes }) => decoderFeeds(8, past, nodes, false, 'tree'));
  const trees = SHAPES.map(({ nodes }) => treeOf(nodes));
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const record = (key: string, t: number, c: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(c);
    (cpu.get(key) ?? cpu.set(key, []).get(key)!).push((used.user + used.system) / 1000);
    (wall.get(key) ?? wall.set(key, []).get(key)!).push(performance.now() - t);
  };
  const measure = async (key: string, call: () => Promise<unknown>, record_: boolean) => {
    for (let i = 0; i < burst; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      await call();
      if (record_) record(key, t, c);
    }
  };
  for (let round = 0; round < rounds + 1; round++) {
    const keep = round > 0;
    for (const [s, { past }] of SHAPES.entries()) {
      for (const [id, runner] of runners) {
        // A cache fed whole reads every allocated row: size it for this shape, not the largest.
        if (runner.cache instanceof HeadMajorKvCache) {
          runner.reset();
          runner.cache.reserve(past + trees[s]!.size);
        }
        await measure(
          `${id}|runner|${s}`,
          async () => {
            (runner.cache as { length: number }).length = past;
            await runner.verify(trees[s]!);
            runner.commit(KEEP_ONE);
          },
          keep,
        );
        // The bare runs feed plain attention's cache layout.
        if (runner.layout.attention !== 'plain') continue;
        const { names } = runner.layout;
        const all = [names.logits, ...names.presentKeys, ...names.presentValues];
        await measure(`${id}|session|${s}`, () => runner.session.run(feeds[s]!, all), keep);
        await measure(`${id}|logits-only|${s}`, () => runner.session.run(feeds[s]!, [names.logits]), keep);
      }
      for (const [format, session] of floorSessions) {
        const last = [`y${LINEAR_SHAPES.length - 1}`];
        await measure(
          `${format}-weights-only|weights-only|${s}`,
          () => session.run(floorFeeds[s]!, last),
          keep,
        );
      }
    }
  }
  for (const runner of runners.values()) await runner.dispose();
  for (const session of floorSessions.values()) await session.release();
  const rows: CallRow[] = [];
  for (const [key, samples] of cpu) {
    const [id, path, s] = key.split('|') as [string, CallRow['path'], string];
    const model = models.find((m) => m.id === id) ?? {
      variant: 'weights-only',
      format: id.slice(0, id.indexOf('-')),
    };
    const { past, nodes } = SHAPES[Number(s)]!;
    const row: CallRow = {
      variant: model.variant,
      format: model.format,
      threads,
      path,
      past,
      nodes,
      cpuMs: percentiles(samples).medianMs,
      wallMs: percentiles(wall.get(key)!).medianMs,
      calls: samples.length,
    };
    rows.push(row);
    process.stderr.write(
      `${model.format.padEnd(5)} ${model.variant.padEnd(14)} ${path.padEnd(11)} threads ${threads} ` +
        `P ${String(past).padStart(4)} N ${String(nodes).padStart(2)}: cpu ${row.cpuMs.toFixed(3)} ms, wall ${row.wallMs.toFixed(3)} ms\n`,
    );
  }
  return rows;
}

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

/** Part 2: ONNX Runtime's profile of `calls` plain tokens at 100 cached tokens, 1 thread. */
async function profile(model: Model, dir: string, calls: number) {
  const prefix = join(dir, `profile-${model.id}`);
  const session = await ort.InferenceSession.create(model.file, {
    ...model.session,
    intraOpNumThreads: 1,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const runner = new OnnxCausalLm(session, model.layout, { maxContext: 2048 });
  await runner.prefill(Int32Array.from({ length: 100 }, (_, i) => 10 + ((i * 37) % 4000)));
  const tree = treeOf(1);
  const t = performance.now();
  for (let i = 0; i < calls; i++) {
    await runner.verify(tree);
    runner.commit(KEEP_ONE);
    (runner.cache as { length: number }).length = 100;
  }
  const runnerWallMs = (performance.now() - t) / calls;
  session.endProfiling();
  await runner.dispose();
  const file = (await readdir(dir)).find((f) => f.startsWith(`profile-${model.id}`))!;
  const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as ProfileEvent[];
  const runs = events.filter((e) => e.name === 'model_run').slice(-calls);
  const from = runs[0]!.ts;
  const byOp = new Map<string, { ms: number; nodes: Set<string> }>();
  let kernelUs = 0;
  for (const e of events) {
    if (e.ts < from || e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const entry = byOp.get(op) ?? byOp.set(op, { ms: 0, nodes: new Set() }).get(op)!;
    entry.ms += e.dur / 1000 / calls;
    entry.nodes.add(e.name);
    kernelUs += e.dur;
  }
  const modelRunMs = runs.reduce((s, e) => s + e.dur, 0) / 1000 / calls;
  const operators = Object.fromEntries(
    [...byOp]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([op, { ms, nodes }]) => [op, { ms: Number(ms.toFixed(4)), nodes: nodes.size }]),
  );
  return {
    variant: model.variant,
    format: model.format,
    runnerWallMs: runnerWallMs,
    modelRunMs,
    kernelMs: kernelUs / 1000 / calls,
    /** Runner wall time outside ONNX Runtime's run: feeds, the binding, output copies, bookkeeping. */
    outsideRunMs: runnerWallMs - modelRunMs,
    nodes: [...byOp.values()].reduce((n, e) => n + e.nodes.size, 0),
    operators,
  };
}

/** Part 3: the runner's JavaScript work of a plain token at 100 and 1000 cached tokens, alone. */
function timeJs() {
  const out: Record<string, number> = {};
  const time = (label: string, fn: () => void) => {
    for (let i = 0; i < 2000; i++) fn();
    const t = performance.now();
    for (let i = 0; i < 20000; i++) fn();
    out[label] = ((performance.now() - t) / 20000) * 1000;
  };
  for (const past of [100, 1000]) {
    const tree = treeOf(1);
    const bias = new Float32Array(2048);
    const visibility = new Uint8Array(64);
    time(`attentionBiasUs@${past}`, () => writeAttentionBias(tree, past, bias, visibility));
  }
  const ids = new BigInt64Array(64);
  time('feedTensorsUs', () => {
    const feeds: Record<string, ort.Tensor> = {};
    for (let i = 0; i < 19; i++) feeds[`x${i}`] = new ort.Tensor('int64', ids.subarray(0, 1), [1, 1]);
  });
  const keys = new Float32Array(2048 * 128);
  const fresh = new Float32Array(128);
  time('commitCopyUs', () => {
    for (let l = 0; l < 16; l++) keys.set(fresh, 100 * 128);
  });
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-plain-'));
  const loadBefore = loadavg();
  try {
    const models: Model[] = [];
    for (const format of args.formats!.split(',')) {
      for (const variant of args.variants!.split(',')) {
        const chosen = VARIANTS[variant];
        if (!chosen)
          throw new Error(`unknown variant "${variant}"; known: ${Object.keys(VARIANTS).join(', ')}`);
        const id = `${format}-${variant}`;
        const { model } = await convertCausalLM({
          checkpoint: join(args.checkpoints!, 'treespec-tiny'),
          out: dir,
          id,
          graph: chosen.graph,
          attention: chosen.attention ?? 'plain',
          weightFormat: format as WeightFormatName,
        });
        models.push({
          id,
          variant,
          format,
          file: join(dir, model.file),
          session: chosen.session ?? {},
          layout: causalLmLayout(model),
        });
      }
    }
    const floors = new Map<string, string>();
    for (const format of args.formats!.split(','))
      floors.set(format, await writeWeightsOnly(dir, `${format}-weights-only`, format as WeightFormatName));
    const calls: CallRow[] = [];
    for (const threads of args.threads!.split(',').map(Number))
      calls.push(...(await timeCalls(models, floors, threads, Number(args.rounds), Number(args.burst))));
    const profiles = [];
    for (const model of models) profiles.push(await profile(model, dir, 200));
    for (const p of profiles)
      process.stderr.write(
        `profile ${p.format} ${p.variant}: ${p.nodes} nodes, model_run ${p.modelRunMs.toFixed(3)} ms, ` +
          `kernels ${p.kernelMs.toFixed(3)} ms, outside run ${p.outsideRunMs.toFixed(3)} ms\n`,
      );
    const find = (r: CallRow, past: number, nodes: number) =>
      calls.find(
        (x) =>
          x.variant === r.variant &&
          x.format === r.format &&
          x.threads === r.threads &&
          x.path === r.path &&
          x.past === past &&
          x.nodes === nodes,
      )!;
    const ratios = calls
      .filter((r) => r.past === 100 && r.nodes === 1)
      .map((r) => ({
        variant: r.variant,
        format: r.format,
        threads: r.threads,
        path: r.path,
        token1000OverToken100Cpu: find(r, 1000, 1).cpuMs / r.cpuMs,
        verify10OverTokenCpu: find(r, 100, 10).cpuMs / r.cpuMs,
        token1000OverToken100Wall: find(r, 1000, 1).wallMs / r.wallMs,
        verify10OverTokenWall: find(r, 100, 10).wallMs / r.wallMs,
      }));
    const report = {
      loadAverage: { before: loadBefore, after: loadavg() },
      calls,
      ratios,
      profiles,
      js: timeJs(),
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
