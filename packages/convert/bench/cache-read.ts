/**
 * What attention over a long KV cache costs at real scale, per cache layout, on onnxruntime-node's
 * CPU provider: attention-only graphs (no weights) with the layer count and head shapes of
 * Llama-3.2-1B (16 layers, 32 query / 8 KV heads of 64) and Qwen3-0.6B (28 layers, 16 / 8 heads of
 * 128), or the tiny target's (8 layers, 6 / 2 heads of 64); N new rows (query, key and value rows
 * as inputs) after P cached rows, one output per layer. The layouts:
 *
 * - `concatenated`: treespec's plain attention graph today. Each layer's cache is `[1, P, kv, d]`
 *   (bsnh), concatenated with the new rows, and both MatMuls read the concatenation through
 *   transposed views that ONNX Runtime folds into FusedMatMul.
 * - `in-place-bsnh`: the same cache read where it lies. Scores against the cached keys and against
 *   the new keys separately, joined before the softmax; weights split again and multiplied with the
 *   cached and the new values separately, then summed.
 * - `in-place-bnsh`: as `in-place-bsnh` with the cache stored head by head (`[kv, P, d]`), so that
 *   each KV head's keys and values are one contiguous block for the MatMuls.
 * - `in-place-bsnh-per-query`, `in-place-bnsh-per-query`: in place, with the query heads of a KV
 *   head's group as a batch dimension (`[kv, group, N, d]` against `[kv, 1, d, P]`), so that a
 *   1-row call multiplies one row at a time (MLAS's one-row kernels, which stream the cache instead
 *   of packing it).
 *
 * Beside them, `read-only` sums every cached key and value (one ReduceSum per tensor): the cost of
 * reading the cache once through ONNX Runtime, which bounds any layout from below.
 *
 * Process CPU and wall milliseconds per call (medians), variants interleaved call by call; then
 * ONNX Runtime's profile of each layout at the longest cache, one row, one thread: kernel
 * milliseconds per call by operator type (`--profile-calls` calls, 0 for none). JSON on stdout, a
 * table on stderr. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:cache-read [--shapes llama-3.2-1b,qwen3-0.6b] [--past 1024,4096] [--rows 1,8] [--threads 1,2] [--rounds 9] [--profile-calls 5] [--layouts concatenated,…]
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../src/graph-builder.js';
import { writeModelFile } from '../src/model-file.js';
import { OnnxDataType } from '../src/onnx-proto.js';
import { seededRandom } from '../test/helpers/random.js';
import { ONE_THREAD_SESSION, percentiles } from './decoder-feeds.js';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'llama-3.2-1b,qwen3-0.6b' },
    past: { type: 'string', default: '1024,4096' },
    rows: { type: 'string', default: '1,8' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '9' },
    'profile-calls': { type: 'string', default: '5' },
    layouts: { type: 'string' },
  },
});

interface AttentionShape {
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** Published shapes (config.json) of the models the real-scale bench converts. */
const SHAPES: Record<string, AttentionShape> = {
  'llama-3.2-1b': { layers: 16, heads: 32, kvHeads: 8, headDim: 64 },
  'qwen3-0.6b': { layers: 28, heads: 16, kvHeads: 8, headDim: 128 },
  'treespec-tiny': { layers: 8, heads: 6, kvHeads: 2, headDim: 64 },
};

const LAYOUTS = [
  'concatenated',
  'in-place-bsnh',
  'in-place-bsnh-per-query',
  'in-place-bnsh',
  'in-place-bnsh-per-query',
  'read-only',
] as const;
type Layout = (typeof LAYOUTS)[number];

/** The layouts `--layouts` names, all by default. */
function chosenLayouts(): readonly Layout[] {
  if (!args.layouts) return LAYOUTS;
  return args.layouts.split(',').map((name) => {
    if (!(LAYOUTS as readonly string[]).includes(name))
      throw new Error(`--layouts: expected some of ${LAYOUTS.join(', ')}, found "${name}"`);
    return name as Layout;
  });
}

/** Whether the layout's cache inputs are `[kv, P, d]` (else `[1, P, kv, d]`). */
const headMajor = (layout: Layout) => layout.startsWith('in-place-bnsh');

/** What every layer's attention reads besides its own cache: the new rows, the bias, the shape. */
interface LayerInputs {
  readonly g: GraphBuilder;
  readonly kv: number;
  readonly d: number;
  readonly group: number;
  /** Query rows `[kv, group * N, d]`, row g * N + n, as treespec's graph groups them. */
  readonly q: string;
  readonly newKeys: string;
  readonly newValues: string;
  /** The new rows as `[kv, d, N]` keys and `[kv, N, d]` values. */
  readonly newKeysT: string;
  readonly newValuesT: string;
  /** The bias `[1, 1, N, T]` tiled over the group: `[1, group * N, T]`. */
  readonly bias: string;
  /** −N, where the new rows' columns start from the end. */
  readonly newFromEnd: string;
}

/** `[T, kv, d]` rows of a token-major tensor (`[1, T, kv, d]`), transposed by `perm`. */
function perHead({ g, kv, d }: Pick<LayerInputs, 'g' | 'kv' | 'd'>, x: string, perm: number[]): string {
  return g.op('Transpose', [g.op('Reshape', [x, g.int64([-1, kv, d])])], { perm });
}

/** Writes the attention-only graph of `layout` (see the file comment) and returns its path. */
async function writeGraph(dir: string, name: string, shape: AttentionShape, layout: Layout): Promise<string> {
  const { layers, heads, kvHeads: kv, headDim: d } = shape;
  const group = heads / kv;
  const { file } = await writeModelFile(dir, `${name}-${layout}`, async (g) => {
    const q = g.input('q', OnnxDataType.FLOAT, [1, 'new', heads, d]);
    const newKeys = g.input('k', OnnxDataType.FLOAT, [1, 'new', kv, d]);
    const newValues = g.input('v', OnnxDataType.FLOAT, [1, 'new', kv, d]);
    const bias = g.input('bias', OnnxDataType.FLOAT, [1, 1, 'new', 'total']);
    const shared = { g, kv, d, group };
    const inputs: LayerInputs = {
      ...shared,
      q: g.op('Reshape', [
        g.op('Transpose', [g.op('Reshape', [q, g.int64([-1, kv, group, d])])], { perm: [1, 2, 0, 3] }),
        g.int64([kv, -1, d]),
      ]),
      newKeys,
      newValues,
      newKeysT: perHead(shared, newKeys, [1, 2, 0]),
      newValuesT: perHead(shared, newValues, [1, 0, 2]),
      bias: g.op('Tile', [g.op('Squeeze', [bias, g.int64([0])]), g.int64([1, group, 1])]),
      newFromEnd: g.op('Neg', [g.op('Shape', [newKeys], { start: 1, end: 2 })]),
    };
    for (let layer = 0; layer < layers; layer++) {
      const cacheDims = headMajor(layout) ? [kv, 'past', d] : [1, 'past', kv, d];
      const pastKeys = g.input(`past_key.${layer}`, OnnxDataType.FLOAT, cacheDims);
      const pastValues = g.input(`past_value.${layer}`, OnnxDataType.FLOAT, cacheDims);
      const out =
        layout === 'read-only'
          ? g.op('Add', [
              g.op('ReduceSum', [pastKeys], { keepdims: 0 }),
              g.op('ReduceSum', [pastValues], { keepdims: 0 }),
            ])
          : attend(inputs, layout, pastKeys, pastValues);
      g.output(out, `out.${layer}`, OnnxDataType.FLOAT, layout === 'read-only' ? [] : ['kv', 'rows', d]);
    }
  });
  return join(dir, file);
}

/**
 * The cache as the layout's MatMuls read it: keys transposed and values, `[kv, d, P]` and
 * `[kv, P, d]`, or per query `[kv, 1, d, P]` and `[kv, 1, P, d]`, every transpose last so that
 * ONNX Runtime folds it into the MatMul.
 */
function cacheViews(
  inputs: LayerInputs,
  layout: Exclude<Layout, 'concatenated' | 'read-only'>,
  pastKeys: string,
  pastValues: string,
): { keysT: string; values: string } {
  const { g, kv, d } = inputs;
  const perQuery = layout.endsWith('-per-query');
  if (!headMajor(layout)) {
    if (!perQuery)
      return { keysT: perHead(inputs, pastKeys, [1, 2, 0]), values: perHead(inputs, pastValues, [1, 0, 2]) };
    const view = (x: string, perm: number[]) =>
      g.op('Transpose', [g.op('Reshape', [x, g.int64([-1, kv, 1, d])])], { perm });
    return { keysT: view(pastKeys, [1, 2, 3, 0]), values: view(pastValues, [1, 2, 0, 3]) };
  }
  if (!perQuery) return { keysT: g.op('Transpose', [pastKeys], { perm: [0, 2, 1] }), values: pastValues };
  const unsqueezed = (x: string) => g.op('Unsqueeze', [x, g.int64([1])]);
  return {
    keysT: g.op('Transpose', [unsqueezed(pastKeys)], { perm: [0, 1, 3, 2] }),
    values: unsqueezed(pastValues),
  };
}

/** One layer's attention context `[kv, group * N, d]` in `layout`. */
function attend(
  inputs: LayerInputs,
  layout: Exclude<Layout, 'read-only'>,
  pastKeys: string,
  pastValues: string,
): string {
  const { g, kv, group, q } = inputs;
  const softmax = (scores: string) => g.op('Softmax', [g.op('Add', [scores, inputs.bias])], { axis: -1 });
  if (layout === 'concatenated') {
    const keys = g.op('Concat', [pastKeys, inputs.newKeys], { axis: 1 });
    const values = g.op('Concat', [pastValues, inputs.newValues], { axis: 1 });
    const weights = softmax(g.op('MatMul', [q, perHead(inputs, keys, [1, 2, 0])]));
    return g.op('MatMul', [weights, perHead(inputs, values, [1, 0, 2])]);
  }
  // Per query head: [kv, group, N, d] against [kv, 1, ·, ·], so a plain token's MatMuls have one
  // row each (MLAS's one-row kernels, which read the cache without packing it).
  const perQuery = layout.endsWith('-per-query');
  const lastDim = (x: string) => g.op('Shape', [x], { start: -1 });
  const byQuery = (x: string) =>
    g.op('Reshape', [x, g.op('Concat', [g.int64([kv, group, -1]), lastDim(x)], { axis: 0 })]);
  const grouped = (x: string) =>
    g.op('Reshape', [x, g.op('Concat', [g.int64([kv, -1]), lastDim(x)], { axis: 0 })]);
  const cached = cacheViews(inputs, layout, pastKeys, pastValues);
  const cachedScores = perQuery
    ? grouped(g.op('MatMul', [byQuery(q), cached.keysT]))
    : g.op('MatMul', [q, cached.keysT]);
  const weights = softmax(g.op('Concat', [cachedScores, g.op('MatMul', [q, inputs.newKeysT])], { axis: -1 }));
  const cachedWeights = g.op('Slice', [weights, g.int64([0]), inputs.newFromEnd, g.int64([-1])]);
  const newWeights = g.op('Slice', [
    weights,
    inputs.newFromEnd,
    g.int64([Number.MAX_SAFE_INTEGER]),
    g.int64([-1]),
  ]);
  const cachedContext = perQuery
    ? grouped(g.op('MatMul', [byQuery(cachedWeights), cached.values]))
    : g.op('MatMul', [cachedWeights, cached.values]);
  return g.op('Add', [cachedContext, g.op('MatMul', [newWeights, inputs.newValuesT])]);
}

/** Feeds of one call: random rows, a zero bias, and caches of `past` rows in the layout's shape. */
function feedsOf(
  shape: AttentionShape,
  layout: Layout,
  past: number,
  rows: number,
): Record<string, ort.Tensor> {
  const { layers, heads, kvHeads: kv, headDim: d } = shape;
  const random = seededRandom(past + rows);
  const filled = (n: number) => Float32Array.from({ length: n }, () => random() - 0.5);
  const feeds: Record<string, ort.Tensor> = {
    q: new ort.Tensor('float32', filled(rows * heads * d), [1, rows, heads, d]),
    k: new ort.Tensor('float32', filled(rows * kv * d), [1, rows, kv, d]),
    v: new ort.Tensor('float32', filled(rows * kv * d), [1, rows, kv, d]),
    bias: new ort.Tensor('float32', new Float32Array(rows * (past + rows)), [1, 1, rows, past + rows]),
  };
  const dims = headMajor(layout) ? [kv, past, d] : [1, past, kv, d];
  for (let layer = 0; layer < layers; layer++) {
    feeds[`past_key.${layer}`] = new ort.Tensor('float32', filled(past * kv * d), dims);
    feeds[`past_value.${layer}`] = new ort.Tensor('float32', filled(past * kv * d), dims);
  }
  return feeds;
}

interface Row {
  shape: string;
  layout: Layout;
  threads: number;
  past: number;
  rows: number;
  /** Bytes of cached keys and values one call reads. */
  cacheBytes: number;
  wallMs: number;
  cpuMs: number;
  /** Cache bytes over wall time, GB/s. */
  readGBps: number;
}

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

/** Kernel milliseconds per call by operator type, from ONNX Runtime's profiler over `calls` calls. */
async function profileOf(dir: string, file: string, feeds: Record<string, ort.Tensor>, calls: number) {
  const prefix = join(dir, 'profile');
  const session = await ort.InferenceSession.create(file, {
    ...ONE_THREAD_SESSION,
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  for (let i = 0; i < calls; i++) await session.run(feeds);
  session.endProfiling();
  await session.release();
  const written = (await readdir(dir)).find((f) => f.startsWith('profile'))!;
  const events = JSON.parse(await readFile(join(dir, written), 'utf8')) as ProfileEvent[];
  await rm(join(dir, written));
  const byOp: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp[op] = (byOp[op] ?? 0) + e.dur / 1000 / calls;
  }
  return Object.fromEntries(
    Object.entries(byOp)
      .sort((a, b) => b[1] - a[1])
      .map(([op, ms]) => [op, Number(ms.toFixed(2))]),
  );
}

async function main(): Promise<void> {
  const layouts = chosenLayouts();
  const dir = await mkdtemp(join(tmpdir(), 'treespec-cache-read-'));
  const result: Row[] = [];
  const profiles: {
    shape: string;
    layout: Layout;
    past: number;
    kernelMsByOperator: Record<string, number>;
  }[] = [];
  const profileCalls = Number(args['profile-calls']);
  const rounds = Number(args.rounds);
  const load = [loadavg()[0]];
  try {
    for (const name of args.shapes.split(',')) {
      const shape = SHAPES[name];
      if (!shape)
        throw new Error(`--shapes: expected some of ${Object.keys(SHAPES).join(', ')}, found "${name}"`);
      const files = new Map<Layout, string>();
      for (const layout of layouts) files.set(layout, await writeGraph(dir, name, shape, layout));
      for (const threads of args.threads.split(',').map(Number)) {
        const sessions = new Map<Layout, ort.InferenceSession>();
        for (const layout of layouts) {
          sessions.set(
            layout,
            await ort.InferenceSession.create(files.get(layout)!, {
              ...ONE_THREAD_SESSION,
              intraOpNumThreads: threads,
            }),
          );
        }
        for (const past of args.past.split(',').map(Number)) {
          for (const rows of args.rows.split(',').map(Number)) {
            const feeds = new Map(layouts.map((layout) => [layout, feedsOf(shape, layout, past, rows)]));
            const wall = new Map<Layout, number[]>(layouts.map((l) => [l, []]));
            const cpu = new Map<Layout, number[]>(layouts.map((l) => [l, []]));
            for (let round = -1; round < rounds; round++) {
              for (const layout of layouts) {
                const started = performance.now();
                const used = process.cpuUsage();
                await sessions.get(layout)!.run(feeds.get(layout)!);
                const { user, system } = process.cpuUsage(used);
                if (round < 0) continue;
                wall.get(layout)!.push(performance.now() - started);
                cpu.get(layout)!.push((user + system) / 1000);
              }
            }
            const cacheBytes = 2 * shape.layers * past * shape.kvHeads * shape.headDim * 4;
            for (const layout of layouts) {
              const wallMs = percentiles(wall.get(layout)!).medianMs;
              const row: Row = {
                shape: name,
                layout,
                threads,
                past,
                rows,
                cacheBytes,
                wallMs,
                cpuMs: percentiles(cpu.get(layout)!).medianMs,
                readGBps: cacheBytes / wallMs / 1e6,
              };
              result.push(row);
              console.error(
                `${name.padEnd(13)} ${layout.padEnd(14)} threads ${threads} P ${String(past).padStart(5)} N ${String(rows).padStart(2)}: ` +
                  `${row.wallMs.toFixed(1).padStart(7)} ms wall ${row.cpuMs.toFixed(1).padStart(7)} ms CPU ${row.readGBps.toFixed(1).padStart(5)} GB/s`,
              );
            }
            load.push(loadavg()[0]);
          }
        }
        for (const session of sessions.values()) await session.release();
      }
      const past = Math.max(...args.past.split(',').map(Number));
      for (const layout of profileCalls > 0 ? layouts : []) {
        const kernelMsByOperator = await profileOf(
          dir,
          files.get(layout)!,
          feedsOf(shape, layout, past, 1),
          profileCalls,
        );
        profiles.push({ shape: name, layout, past, kernelMsByOperator });
        console.error(`profile ${name} ${layout} P ${past} N 1: ${JSON.stringify(kernelMsByOperator)}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    JSON.stringify(
      { rounds, loadAverage: [Math.min(...load), Math.max(...load)], rows: result, profiles },
      null,
      2,
    ),
  );
}

await main();
