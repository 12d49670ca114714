/**
 * Latency of converted tiny models on onnxruntime-node's CPU execution provider, per graph
 * variant: the target for N new tokens after P cached ones, and the EAGLE head likewise.
 * Prints a JSON report on stdout and a table on stderr. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench [--checkpoints DIR] [--variants a,b] [--threads 2,1] [--quick] [--spinning]
 *
 * Intra-op threads do not spin-wait unless --spinning is given: with several sessions open (the
 * variants here; a target and a head in a decoder) spinning pools steal the cores from each other.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import {
  convertCausalLM,
  convertEagleHead,
  Fp32Weights,
  type GraphOptions,
  type LinearOp,
} from '../src/index.js';
import { decoderFeeds, percentiles } from './decoder-feeds.js';

interface Variant {
  readonly graph: Partial<GraphOptions>;
  readonly linear: LinearOp;
}

const VARIANTS: Record<string, Variant> = {
  default: { graph: {}, linear: 'gemm' },
  matmul: { graph: {}, linear: 'matmul' },
  unfused: { graph: { fuseQkv: false, fuseGateUp: false }, linear: 'gemm' },
  'simplified-norm': { graph: { norm: 'simplified' }, linear: 'gemm' },
  'scale-at-runtime': { graph: { foldScale: false }, linear: 'gemm' },
};

const { values: args } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: resolve(import.meta.dirname, '../../model-tiny/checkpoints') },
    variants: { type: 'string', default: Object.keys(VARIANTS).join(',') },
    threads: { type: 'string', default: '2,1' },
    quick: { type: 'boolean', default: false },
    spinning: { type: 'boolean', default: false },
  },
});

const TARGET_N = [1, 4, 8, 16, 32, 64];
const HEAD_N = [1, 4, 8, 10];
const PAST = [100, 1000];

interface Row {
  model: 'target' | 'head';
  variant: string;
  threads: number;
  past: number;
  n: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  runs: number;
  relativeToN1: number;
}

/**
 * Times every variant on the same inputs, interleaved round by round so that drift of a shared
 * machine hits all variants alike.
 */
async function timeInterleaved(
  sessions: Map<string, ort.InferenceSession>,
  input: Record<string, ort.Tensor>,
  rounds: number,
): Promise<Map<string, { medianMs: number; p10Ms: number; p90Ms: number; runs: number }>> {
  const samples = new Map<string, number[]>([...sessions.keys()].map((k) => [k, []]));
  for (const session of sessions.values()) for (let i = 0; i < 3; i++) await session.run(input);
  for (let r = 0; r < rounds; r++) {
    for (const [name, session] of sessions) {
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await session.run(input);
        samples.get(name)!.push(performance.now() - t);
      }
    }
  }
  const out = new Map<string, { medianMs: number; p10Ms: number; p90Ms: number; runs: number }>();
  for (const [name, s] of samples) out.set(name, { ...percentiles(s), runs: s.length });
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-bench-'));
  const rows: Row[] = [];
  const rounds = args.quick ? 4 : 15;
  const names = args.variants!.split(',');
  try {
    for (const name of names) {
      const variant = VARIANTS[name];
      if (!variant) throw new Error(`unknown variant "${name}"; known: ${Object.keys(VARIANTS).join(', ')}`);
      const out = join(dir, name);
      const common = { out, graph: variant.graph, weightFormat: new Fp32Weights(variant.linear) };
      await convertCausalLM({
        ...common,
        checkpoint: join(args.checkpoints!, 'treespec-tiny'),
        id: 'target',
      });
      await convertEagleHead({
        ...common,
        checkpoint: join(args.checkpoints!, 'treespec-tiny-eagle2'),
        target: join(args.checkpoints!, 'treespec-tiny'),
        id: 'head',
      });
    }
    for (const threads of args.threads!.split(',').map(Number)) {
      const options: ort.InferenceSession.SessionOptions = {
        graphOptimizationLevel: 'all',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        extra: { session: { intra_op: { allow_spinning: args.spinning ? '1' : '0' } } },
      };
      for (const model of ['target', 'head'] as const) {
        const sessions = new Map<string, ort.InferenceSession>();
        for (const name of names)
          sessions.set(name, await ort.InferenceSession.create(join(dir, name, `${model}.onnx`), options));
        const layers = model === 'target' ? 8 : 1;
        for (const past of PAST) {
          const base = new Map<string, number>();
          for (const n of model === 'target' ? TARGET_N : HEAD_N) {
            const timings = await timeInterleaved(
              sessions,
              decoderFeeds(layers, past, n, model === 'head', 'tree'),
              rounds,
            );
            for (const [name, t] of timings) {
              if (n === 1) base.set(name, t.medianMs);
              const row = {
                model,
                variant: name,
                threads,
                past,
                n,
                ...t,
                relativeToN1: t.medianMs / base.get(name)!,
              };
              rows.push(row);
              process.stderr.write(
                `${name.padEnd(17)} ${model.padEnd(6)} threads ${threads} P ${String(past).padStart(4)} N ${String(n).padStart(2)}: ` +
                  `${t.medianMs.toFixed(3)} ms (p10 ${t.p10Ms.toFixed(3)}, p90 ${t.p90Ms.toFixed(3)}, x${row.relativeToN1.toFixed(2)})\n`,
              );
            }
          }
        }
        for (const session of sessions.values()) await session.release();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const report = {
    onnxruntime: '1.30.0 (onnxruntime-node, CPU EP)',
    node: process.version,
    graphOptimizationLevel: 'all',
    intraOpSpinning: args.spinning,
    note: 'median over interleaved rounds (3 runs per variant per round) after 3 warm-up runs; relativeToN1 = median(N) / median(N=1) at the same P and variant',
    rows,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
