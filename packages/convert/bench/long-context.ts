/**
 * A real-size target's call after a long context, through the runner, in each attention layout
 * (issue 12 item 2 at real scale). Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:long-context [--models llama-3.2-1b,qwen3-0.6b]
 *     [--weights int4] [--layouts plain,plain-float32,in-place(,fused)] [--contexts 1024,4096] [--rows 1,8]
 *     [--rounds 7] [--threads 1] [--work DIR] [--json FILE]
 *
 * For each model it writes the synthetic checkpoint of bench:real-scale (published shapes, random
 * weights; reused when `--work` has it), converts the target once per layout (reused too):
 * - `plain`: the converter's default, the cache concatenated with the new rows (for int8/int4
 *   weights its sums over the keys in float64, so that tree rows match plain steps bit for bit);
 * - `plain-float32`: the same graph summing in float32;
 * - `in-place`: `--attention in-place`, the head-major cache read where it lies (float32 sums);
 * - `fused`: `--attention fused`, ONNX Runtime's GroupQueryAttention over a shared cache buffer;
 * loads every layout in one process as an `OnnxCausalLm` on ONNX Runtime's CPU provider, fills
 * each runner's KV cache by prefilling the same random prompt up to each context in turn (so every
 * layer's cache is its own memory, as in decoding), and times greedy verification calls of each
 * `--rows` count (1 = a plain token; larger, a binary tree) after that many cached rows, layouts
 * interleaved call by call, the calls never committed. Each number is the median wall and process
 * CPU time of `--rounds` calls after a warm-up call. The greedy tokens of every layout's calls are
 * compared with the first layout's (random weights: ties are rare, and float32 sums may break one).
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { argmax, DraftTree } from '@treespec/core';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { type AttentionKind, convertCausalLM, type ProducedWeightFormat } from '../src/index.js';
import { readManifest } from '../src/manifest-file.js';
import { seededRandom } from '../test/helpers/random.js';
import type { VariantSpec } from '../test/helpers/random-checkpoint.js';
import { LLAMA_3_2_1B, QWEN3_0_6B, writeStreamedCheckpoint } from '../test/helpers/real-scale.js';
import { percentiles } from './decoder-feeds.js';

const MODELS: Record<string, VariantSpec> = { 'llama-3.2-1b': LLAMA_3_2_1B, 'qwen3-0.6b': QWEN3_0_6B };
const LAYOUTS: Record<string, { attention: AttentionKind; precision?: 'float32' }> = {
  plain: { attention: 'plain' },
  'plain-float32': { attention: 'plain', precision: 'float32' },
  'in-place': { attention: 'in-place' },
  fused: { attention: 'fused' },
};

const { values: args } = parseArgs({
  // `pnpm <script> -- --flag` passes the `--` on; options follow it here.
  args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
  options: {
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    weights: { type: 'string', default: 'int4' },
    layouts: { type: 'string', default: 'plain,plain-float32,in-place' },
    contexts: { type: 'string', default: '1024,4096' },
    rows: { type: 'string', default: '1,8' },
    rounds: { type: 'string', default: '7' },
    threads: { type: 'string', default: '1' },
    work: { type: 'string', default: '/tmp/treespec-long-context' },
    json: { type: 'string' },
  },
});

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const numbers = (list: string) => list.split(',').map(Number);

interface Row {
  model: string;
  weights: string;
  layout: string;
  context: number;
  rows: number;
  wallMs: number;
  cpuMs: number;
  p10Ms: number;
  p90Ms: number;
  /** Calls whose greedy tokens equal the first layout's. */
  sameTokens: number;
  calls: number;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The converted target of `layout`, converting it unless `dir` has it. */
async function converted(hf: string, dir: string, layout: string): Promise<OnnxCausalLm> {
  const { attention, precision } = LAYOUTS[layout]!;
  let model = (await readManifest(dir))?.models.find((m) => m.id === layout);
  if (!model) {
    process.stderr.write(`converting ${hf} as ${layout}\n`);
    ({ model } = await convertCausalLM({
      checkpoint: hf,
      out: dir,
      id: layout,
      weightFormat: args.weights as ProducedWeightFormat,
      maxContext: Math.max(...numbers(args.contexts!)) + 256,
      attention,
      ...(precision ? { graph: { attentionPrecision: precision } } : {}),
    }));
  }
  const session = await ort.InferenceSession.create(join(dir, model.file), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: Number(args.threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return new OnnxCausalLm(session, causalLmLayout(model), { maxTreeSize: 64 });
}

/** Each row's greedy token from its logits (a cache without greedy row outputs returns those). */
function greedyOf(logits: Float32Array, rows: number, vocab: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, r) => argmax(logits, r * vocab, vocab));
}

/** A tree of `rows` nodes, node i a child of node (i - 1) / 2 (a binary tree, as bench:real-scale's positions). */
function binaryTree(rows: number, vocab: number): DraftTree {
  const tree = new DraftTree(rows);
  tree.reset(5);
  for (let i = 1; i < rows; i++) tree.add((i - 1) >> 1, 5 + ((i * 7919) % (vocab - 5)), 0);
  return tree;
}

async function runModel(name: string, spec: VariantSpec): Promise<Row[]> {
  const dir = join(args.work!, name);
  const hf = join(dir, 'hf');
  if (!(await exists(join(hf, 'model.safetensors')))) {
    process.stderr.write(`${name}: writing the synthetic checkpoint\n`);
    await writeStreamedCheckpoint(hf, spec);
  }
  const layouts = args.layouts!.split(',');
  const out = join(dir, `onnx-${args.weights}`);
  await mkdir(out, { recursive: true });
  const runners: OnnxCausalLm[] = [];
  for (const layout of layouts) runners.push(await converted(hf, out, layout));
  const random = seededRandom(spec.seed);
  const contexts = numbers(args.contexts!);
  const prompt = Int32Array.from(
    { length: Math.max(...contexts) },
    () => 5 + Math.floor(random() * (spec.vocab - 5)),
  );
  const trees = numbers(args.rows!).map((rows) => binaryTree(rows, spec.vocab));
  const results: Row[] = [];
  for (const context of contexts) {
    for (const runner of runners) {
      const started = performance.now();
      await runner.prefill(prompt.subarray(runner.cachedLength, context));
      process.stderr.write(
        `${name}: prefilled to ${context} in ${round((performance.now() - started) / 1000, 1)} s\n`,
      );
    }
    for (const tree of trees) {
      const wall = runners.map(() => [] as number[]);
      const cpu = runners.map(() => [] as number[]);
      const same = runners.map(() => 0);
      const rounds = Number(args.rounds);
      for (let r = -1; r < rounds; r++) {
        let first: Int32Array | null = null;
        for (const [i, runner] of runners.entries()) {
          const cpuStart = process.cpuUsage();
          const t = performance.now();
          const step = await runner.verify(tree, { greedy: true });
          const ms = performance.now() - t;
          const used = process.cpuUsage(cpuStart);
          const tokens =
            step.greedyTokens?.slice(0, tree.size) ?? greedyOf(step.logits, tree.size, spec.vocab);
          first ??= tokens;
          if (r < 0) continue;
          wall[i]!.push(ms);
          cpu[i]!.push((used.user + used.system) / 1000);
          if (tokens.every((t, k) => t === first![k])) same[i]!++;
        }
      }
      for (const [i, layout] of layouts.entries()) {
        const w = percentiles(wall[i]!);
        const row: Row = {
          model: name,
          weights: args.weights!,
          layout,
          context,
          rows: tree.size,
          wallMs: round(w.medianMs),
          cpuMs: round(percentiles(cpu[i]!).medianMs),
          p10Ms: round(w.p10Ms),
          p90Ms: round(w.p90Ms),
          sameTokens: same[i]!,
          calls: rounds,
        };
        results.push(row);
        process.stderr.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
  for (const runner of runners) await runner.dispose();
  return results;
}

async function main(): Promise<void> {
  const before = loadavg().map((x) => round(x));
  const rows: Row[] = [];
  for (const name of args.models!.split(',')) {
    const spec = MODELS[name];
    if (!spec) throw new Error(`unknown model ${name}: one of ${Object.keys(MODELS).join(', ')}`);
    rows.push(...(await runModel(name, spec)));
  }
  const report = {
    command: `bench:long-context ${process.argv.slice(2).join(' ')}`.trim(),
    threads: Number(args.threads),
    rounds: Number(args.rounds),
    loadAverage: { before, after: loadavg().map((x) => round(x)) },
    rows,
  };
  const text = JSON.stringify(report, null, 2);
  if (args.json) await writeFile(args.json, `${text}\n`);
  process.stdout.write(`${text}\n`);
  process.stderr.write('\nmodel | context | rows | ' + args.layouts!.split(',').join(' | ') + ' (wall ms)\n');
  for (const r of rows.filter((r) => r.layout === rows[0]!.layout)) {
    const cells = rows
      .filter((x) => x.model === r.model && x.context === r.context && x.rows === r.rows)
      .map((x) => `${x.wallMs} (${x.sameTokens}/${x.calls} same)`);
    process.stderr.write(`${r.model} | ${r.context} | ${r.rows} | ${cells.join(' | ')}\n`);
  }
}

await main();
