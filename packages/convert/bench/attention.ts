/**
 * Plain against fused attention on the tiny target, through the real runner (`OnnxCausalLm`,
 * prefill, tree verification, commit) on onnxruntime-node's CPU provider: a plain token (a
 * 1-node tree, then its commit) and a 10-node tree at 100 and 1000 cached tokens (the cache is cut
 * back after each commit, so every call sees the same context); and, for plain
 * attention, the bare `session.run` on prebuilt feeds of the same shapes (`path: "session"`), so
 * the runner's own cost per call is the difference. Reports each
 * call's wall time and the process CPU time it used (less sensitive to other processes on a
 * shared machine when threads do not spin), interleaved round by round. JSON on stdout, a table on
 * stderr. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:attention [--checkpoints DIR] [--threads 1,2] [--rounds 15] [--formats fp32,fp16,int8]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DraftTree, KeepPlan } from '@treespec/core';
import { causalLmLayout, OnnxCausalLm } from '@treespec/onnx';
import * as ort from 'onnxruntime-node';
import { type AttentionKind, convertCausalLM } from '../src/index.js';
import { decoderFeeds, percentiles } from './decoder-feeds.js';

const { values: args } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: resolve(import.meta.dirname, '../../model-tiny/checkpoints') },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '15' },
    formats: { type: 'string', default: 'fp32' },
  },
});

const PAST = [100, 1000];
const NODES = [1, 10];
const ATTENTION: AttentionKind[] = ['plain', 'fused'];

/** A 10-node tree shaped like the default CPU budget's: a chain of 5 with side branches. */
function treeOf(nodes: number): DraftTree {
  const tree = new DraftTree(nodes);
  tree.reset(100);
  for (let i = 1; i < nodes; i++) tree.add(i < 6 ? i - 1 : i - 5, 100 + i, 0);
  return tree;
}

interface Row {
  format: string;
  attention: AttentionKind;
  path: 'runner' | 'session';
  threads: number;
  past: number;
  nodes: number;
  wallMs: number;
  cpuMs: number;
  runs: number;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-attention-'));
  const rows: Row[] = [];
  const rounds = Number(args.rounds);
  const keep = new KeepPlan(1);
  keep.slots[0] = 0;
  keep.count = 1;
  try {
    const formats = args.formats!.split(',');
    const files = new Map<string, ReturnType<typeof causalLmLayout> & { file: string }>();
    for (const format of formats) {
      for (const attention of ATTENTION) {
        const id = `${format}-${attention}`;
        const { model } = await convertCausalLM({
          checkpoint: join(args.checkpoints!, 'treespec-tiny'),
          out: dir,
          id,
          attention,
          weightFormat: format as 'fp32' | 'fp16' | 'int8' | 'int4',
        });
        files.set(id, { ...causalLmLayout(model), file: model.file });
      }
    }
    for (const threads of args.threads!.split(',').map(Number)) {
      const runners = new Map<string, OnnxCausalLm>();
      for (const [id, layout] of files) {
        const session = await ort.InferenceSession.create(join(dir, layout.file), {
          intraOpNumThreads: threads,
          extra: { session: { intra_op: { allow_spinning: '0' } } },
        });
        runners.set(id, new OnnxCausalLm(session, layout, { maxContext: 2048 }));
      }
      for (const past of PAST) {
        const prompt = Int32Array.from({ length: past }, (_, i) => 10 + ((i * 37) % 4000));
        for (const runner of runners.values()) {
          runner.reset();
          await runner.prefill(prompt);
        }
        const wall = new Map<string, number[]>();
        const cpu = new Map<string, number[]>();
        const record = (key: string, t: number, c: NodeJS.CpuUsage) => {
          const used = process.cpuUsage(c);
          (wall.get(key) ?? wall.set(key, []).get(key)!).push(performance.now() - t);
          (cpu.get(key) ?? cpu.set(key, []).get(key)!).push((used.user + used.system) / 1000);
        };
        for (let round = 0; round < rounds + 2; round++) {
          for (const nodes of NODES) {
            const tree = treeOf(nodes);
            const feeds = decoderFeeds(8, past, nodes, false, 'tree');
            for (const [id, runner] of runners) {
              for (let i = 0; i < 3; i++) {
                const t = performance.now();
                const c = process.cpuUsage();
                await runner.verify(tree);
                runner.commit(keep);
                if (round >= 2) record(`${id}:runner:${nodes}`, t, c);
                // Back to `past` rows, so every call sees the same context.
                (runner.cache as { length: number }).length = past;
              }
              if (runner.layout.attention !== 'plain') continue;
              const { names } = runner.layout;
              const fetches = [names.logits, ...names.presentKeys, ...names.presentValues];
              for (let i = 0; i < 3; i++) {
                const t = performance.now();
                const c = process.cpuUsage();
                await runner.session.run(feeds, fetches);
                if (round >= 2) record(`${id}:session:${nodes}`, t, c);
              }
            }
          }
        }
        for (const [key, samples] of wall) {
          const [id, path, nodes] = key.split(':') as [string, Row['path'], string];
          const [format, attention] = id.split('-') as [string, AttentionKind];
          const row: Row = {
            format,
            attention,
            path,
            threads,
            past,
            nodes: Number(nodes),
            wallMs: percentiles(samples).medianMs,
            cpuMs: percentiles(cpu.get(key)!).medianMs,
            runs: samples.length,
          };
          rows.push(row);
          process.stderr.write(
            `${id.padEnd(12)} ${path.padEnd(7)} threads ${threads} P ${String(past).padStart(4)} N ${String(nodes).padStart(2)}: ` +
              `wall ${row.wallMs.toFixed(3)} ms, cpu ${row.cpuMs.toFixed(3)} ms\n`,
          );
        }
      }
      for (const runner of runners.values()) await runner.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const find = (r: Row, past: number, nodes: number) =>
    rows.find(
      (x) =>
        x.format === r.format &&
        x.attention === r.attention &&
        x.path === r.path &&
        x.threads === r.threads &&
        x.past === past &&
        x.nodes === nodes,
    )!;
  const ratios = rows
    .filter((r) => r.past === 100 && r.nodes === 1)
    .map((r) => ({
      format: r.format,
      attention: r.attention,
      path: r.path,
      threads: r.threads,
      token1000OverToken100: {
        wall: find(r, 1000, 1).wallMs / r.wallMs,
        cpu: find(r, 1000, 1).cpuMs / r.cpuMs,
      },
      verify10OverToken: { wall: find(r, 100, 10).wallMs / r.wallMs, cpu: find(r, 100, 10).cpuMs / r.cpuMs },
    }));
  process.stdout.write(`${JSON.stringify({ rows, ratios }, null, 2)}\n`);
}

await main();
