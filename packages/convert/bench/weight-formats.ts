/**
 * Latency of the tiny EAGLE-2 head and target per weight format (fp32 Gemm, int8 and int4
 * MatMulNBits) on onnxruntime-node's CPU execution provider. Prints a JSON report on stdout and a
 * table on stderr. Not a test.
 *
 *   pnpm -s --filter @treespec/convert bench:weights [--checkpoints DIR] [--threads 1] [--rounds 20] [--quick]
 *
 * The head is timed in three states:
 * - `hot`: the same call repeated, so its weights stay in the caches;
 * - `after-target`: right after one fp32 target call (N=8 rows at the same P), the situation in
 *   the decoding loop, where verification streams the target's 75 MB of weights through the
 *   32 MB L3 and evicts the head;
 * - `after-sweep`: right after reading a 75 MB buffer (the same eviction without the target).
 * The target (fp32 and int8) is timed hot, for information. Formats are interleaved call by call
 * so drift of a shared machine hits all of them alike; each row is the median of its samples.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { convertCausalLM, convertEagleHead } from '../src/index.js';
import { decoderFeeds, percentiles } from './decoder-feeds.js';

const { values: args } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: resolve(import.meta.dirname, '../../model-tiny/checkpoints') },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false },
  },
});

const HEAD_FORMATS = ['fp32', 'int8', 'int4'] as const;
const TARGET_FORMATS = ['fp32', 'int8'] as const;
const HEAD_N = [1, 4, 8];
const TARGET_N = [1, 8, 16];
const PAST = [100, 1000];
const STATES = ['hot', 'after-target', 'after-sweep'] as const;
const SWEEP_BYTES = 75 * 2 ** 20;

type State = (typeof STATES)[number];

interface Row {
  model: 'head' | 'target';
  format: string;
  state: State;
  threads: number;
  past: number;
  n: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  samples: number;
}

const sweepBuffer = new Float64Array(SWEEP_BYTES / 8).fill(1);
let sink = 0;
/** Reads 75 MB, evicting the caches. */
function sweep(): void {
  let s = 0;
  for (let i = 0; i < sweepBuffer.length; i += 8) s += sweepBuffer[i]!; // one read per 64-byte line
  sink += s;
}

function summary(samples: number[]): { medianMs: number; p10Ms: number; p90Ms: number; samples: number } {
  return { ...percentiles(samples), samples: samples.length };
}

async function timed(session: ort.InferenceSession, input: Record<string, ort.Tensor>): Promise<number> {
  const t = performance.now();
  await session.run(input);
  return performance.now() - t;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'treespec-bench-weights-'));
  const rows: Row[] = [];
  const rounds = args.quick ? 4 : Number(args.rounds);
  const load = loadavg()[0]!;
  if (load > 0.5) process.stderr.write(`warning: 1-minute load average ${load.toFixed(2)} > 0.5\n`);
  try {
    const checkpoint = (name: string) => join(args.checkpoints!, name);
    for (const format of TARGET_FORMATS) {
      await convertCausalLM({
        checkpoint: checkpoint('treespec-tiny'),
        out: dir,
        id: `target-${format}`,
        weightFormat: format,
      });
    }
    for (const format of HEAD_FORMATS) {
      await convertEagleHead({
        checkpoint: checkpoint('treespec-tiny-eagle2'),
        target: checkpoint('treespec-tiny'),
        out: dir,
        id: `head-${format}`,
        weightFormat: format,
      });
    }
    for (const threads of args.threads!.split(',').map(Number)) {
      const options: ort.InferenceSession.SessionOptions = {
        graphOptimizationLevel: 'all',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      };
      const open = (id: string) => ort.InferenceSession.create(join(dir, `${id}.onnx`), options);
      const targets = new Map<string, ort.InferenceSession>();
      for (const f of TARGET_FORMATS) targets.set(f, await open(`target-${f}`));
      const heads = new Map<string, ort.InferenceSession>();
      for (const f of HEAD_FORMATS) heads.set(f, await open(`head-${f}`));
      const verify = targets.get('fp32')!;
      const report = (row: Row) => {
        rows.push(row);
        process.stderr.write(
          `${row.model.padEnd(6)} ${row.format} ${row.state.padEnd(12)} t${threads} P ${String(row.past).padStart(4)} N ${String(row.n).padStart(2)}: ` +
            `${row.medianMs.toFixed(3)} ms (p10 ${row.p10Ms.toFixed(3)}, p90 ${row.p90Ms.toFixed(3)})\n`,
        );
      };

      for (const past of PAST) {
        const verifyInput = decoderFeeds(8, past, 8, false);
        for (const n of HEAD_N) {
          const input = decoderFeeds(1, past, n, true);
          const samples = new Map<string, number[]>();
          for (const s of heads.values()) for (let i = 0; i < 3; i++) await s.run(input);
          for (let r = 0; r < rounds; r++) {
            for (const state of STATES) {
              for (const [format, session] of heads) {
                const key = `${format}/${state}`;
                if (!samples.has(key)) samples.set(key, []);
                for (let i = 0; i < 3; i++) {
                  if (state === 'after-target') await verify.run(verifyInput);
                  else if (state === 'after-sweep') sweep();
                  else await session.run(input); // hot: the call right before was this one
                  samples.get(key)!.push(await timed(session, input));
                }
              }
            }
          }
          for (const state of STATES) {
            for (const format of HEAD_FORMATS) {
              report({
                model: 'head',
                format,
                state,
                threads,
                past,
                n,
                ...summary(samples.get(`${format}/${state}`)!),
              });
            }
          }
        }
        for (const n of TARGET_N) {
          const input = decoderFeeds(8, past, n, false);
          const samples = new Map<string, number[]>(TARGET_FORMATS.map((f) => [f, []]));
          for (const s of targets.values()) await s.run(input);
          for (let r = 0; r < Math.max(4, Math.round(rounds / 2)); r++) {
            for (const [format, session] of targets) {
              for (let i = 0; i < 3; i++) samples.get(format)!.push(await timed(session, input));
            }
          }
          for (const format of TARGET_FORMATS) {
            report({
              model: 'target',
              format,
              state: 'hot',
              threads,
              past,
              n,
              ...summary(samples.get(format)!),
            });
          }
        }
      }
      for (const s of [...targets.values(), ...heads.values()]) await s.release();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const result = {
    onnxruntime: '1.30.0 (onnxruntime-node, CPU EP)',
    node: process.version,
    loadAverageAtStart: load,
    graphOptimizationLevel: 'all',
    intraOpSpinning: false,
    quantization:
      'MatMulNBits, block 32, symmetric, accuracy_level 4 (int8 compute); embeddings and norms fp32',
    note:
      'median ms per call over interleaved rounds (3 calls per format and state per round); ' +
      'after-target: each head call follows one fp32 target call with N=8 at the same P; after-sweep: follows a 75 MB read',
    rows,
    sink: sink > 0,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

await main();
