/**
 * treespec against node-llama-cpp (llama.cpp's Node binding) on the same tiny target weights and
 * prompts, in one process, interleaved prompt by prompt: plain decoding in fp32/f32, fp16/f16 and
 * int8/q8_0, and treespec's EAGLE-2 in fp32; 1 and 2 threads. Greedy, 128 tokens, the
 * development prompts. Prints tokens/s per system (median over rounds of each prompt's rate,
 * prompt prefill included on both sides), same-run ratios, and how many greedy tokens agree:
 * one JSON line per thread count as it finishes, then the whole report. Not a test.
 *
 * node-llama-cpp is not a dependency of the workspace (its prebuilt binaries are large and
 * platform-specific): install it in a scratch folder and write the GGUF files there with
 * ../shared/tools/hf-to-gguf-tiny.py (docs/benchmarks.md, "Against llama.cpp"):
 *
 *   pnpm -s --filter @treespec/node bench:peer -- --llama-dir /tmp/nlc [--threads 1,2] [--rounds 3] [--prompts 10] [--tokens 128]
 *
 * Reads `<llama-dir>/tiny-f32.gguf`, `tiny-f16.gguf` and `tiny-q8_0.gguf` (each skipped when absent).
 * `--before` adds treespec plain fp32 and int8 with the graph of the previous release (primitive
 * RMSNorm and RoPE), so a change to the graph is measured against it in the same run.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { TextGenerator } from '@treespec/generator';
import { tinyDevPrompts, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '../src/index.js';
import { bundleWithTarget } from '../test/converted-target.js';
import { median } from './median.js';

const { values: args } = parseArgs({
  options: {
    'llama-dir': { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    prompts: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '128' },
    before: { type: 'boolean', default: false },
  },
});
if (!args['llama-dir'])
  throw new Error(
    '--llama-dir <dir> (a folder with node-llama-cpp installed and the GGUF files) is required',
  );
const llamaDir = resolve(args['llama-dir']);
const tokens = Number(args.tokens);
const rounds = Number(args.rounds);
const EOS = 2;

/** The part of node-llama-cpp's API this benchmark uses. */
interface LlamaSequence {
  evaluate(tokens: number[], options?: { temperature?: number }): AsyncGenerator<number, void, void>;
  clearHistory(): Promise<void>;
}
interface LlamaApi {
  getLlama(options: { gpu: false; build: 'never'; progressLogs: boolean }): Promise<{
    loadModel(options: { modelPath: string }): Promise<{
      createContext(options: {
        contextSize: number;
        threads: number;
      }): Promise<{ getSequence(): LlamaSequence }>;
    }>;
  }>;
}

interface System {
  readonly name: string;
  /** Generates from prompt ids; returns the generated ids. */
  run(prompt: string, ids: number[]): Promise<number[]>;
}

function treespecSystem(name: string, generator: TextGenerator, plain: boolean): System {
  return {
    name,
    async run(prompt) {
      const r = await generator.generate(prompt, {
        maxTokens: tokens,
        plain,
        ...(plain ? {} : { drafter: 'eagle2' }),
      });
      return Array.from(r.tokens);
    },
  };
}

function llamaSystem(name: string, sequence: LlamaSequence): System {
  return {
    name,
    async run(_prompt, ids) {
      await sequence.clearHistory();
      const out: number[] = [];
      for await (const token of sequence.evaluate(ids, { temperature: 0 })) {
        if (token === EOS) break;
        out.push(token);
        if (out.length >= tokens) break;
      }
      return out;
    },
  };
}

async function main(): Promise<void> {
  const require = createRequire(join(llamaDir, 'package.json'));
  const llamaApi = (await import(pathToFileURL(require.resolve('node-llama-cpp')).href)) as LlamaApi;
  const llama = await llamaApi.getLlama({ gpu: false, build: 'never', progressLogs: false });
  const prompts = tinyDevPrompts()
    .slice(0, Number(args.prompts))
    .map((p) => p.prompt);
  const work = await mkdtemp(join(tmpdir(), 'treespec-peer-'));
  const bundles: Record<string, string> = { fp32: tinyModelDirectory() };
  for (const format of ['fp16', 'int8'] as const) {
    bundles[format] = join(work, format);
    await mkdir(bundles[format]!, { recursive: true });
    await bundleWithTarget(bundles[format]!, { weightFormat: format });
  }
  const before: Record<string, string> = {};
  if (args.before) {
    for (const format of ['fp32', 'int8'] as const) {
      before[format] = join(work, `${format}-before`);
      await mkdir(before[format]!, { recursive: true });
      await bundleWithTarget(before[format]!, {
        weightFormat: format,
        graph: { norm: 'primitive', rope: 'primitive' },
      });
    }
  }
  const gguf: Record<string, string> = {
    fp32: 'tiny-f32.gguf',
    fp16: 'tiny-f16.gguf',
    int8: 'tiny-q8_0.gguf',
  };
  const report: Record<string, unknown>[] = [];
  try {
    for (const threads of args.threads!.split(',').map(Number)) {
      const systems: System[] = [];
      const generators: TextGenerator[] = [];
      const plainOf: Record<string, System> = {};
      const llamaOf: Record<string, System> = {};
      for (const format of ['fp32', 'fp16', 'int8']) {
        // EAGLE-2 by name: the CPU's default drafter is the hybrid.
        const generator = await loadTreespec(bundles[format]!, {
          intraOpNumThreads: threads,
          drafters: ['eagle2'],
        });
        generators.push(generator);
        plainOf[format] = treespecSystem(`treespec plain ${format}`, generator, true);
        systems.push(plainOf[format]);
        if (format === 'fp32') systems.push(treespecSystem('treespec EAGLE-2 fp32', generator, false));
        if (before[format]) {
          const old = await loadTreespec(before[format]!, { intraOpNumThreads: threads });
          generators.push(old);
          systems.push(treespecSystem(`treespec plain ${format} before`, old, true));
        }
        const file = join(llamaDir, gguf[format]!);
        if (!existsSync(file)) {
          process.stderr.write(`skipping llama.cpp ${format}: ${file} not found\n`);
          continue;
        }
        const model = await llama.loadModel({ modelPath: file });
        const context = await model.createContext({ contextSize: 1024, threads });
        llamaOf[format] = llamaSystem(
          `node-llama-cpp plain ${gguf[format]!.slice(5, -5)}`,
          context.getSequence(),
        );
        systems.push(llamaOf[format]);
      }
      const rates = new Map<string, number[]>(systems.map((s) => [s.name, []]));
      const agree = new Map<string, { same: number; total: number }>();
      const idsOf = new Map<string, number[]>();
      for (const prompt of prompts) {
        const r = await generators[0]!.generate(prompt, { maxTokens: 0, plain: true });
        idsOf.set(prompt, Array.from(r.promptTokens));
      }
      for (let round = 0; round < rounds; round++) {
        for (const prompt of prompts) {
          const ids = idsOf.get(prompt)!;
          const outputs = new Map<string, number[]>();
          for (const system of systems) {
            const t = performance.now();
            const out = await system.run(prompt, ids);
            const seconds = (performance.now() - t) / 1000;
            rates.get(system.name)!.push(out.length / seconds);
            outputs.set(system.name, out);
          }
          if (round > 0) continue;
          for (const format of Object.keys(llamaOf)) {
            const a = outputs.get(plainOf[format]!.name)!;
            const b = outputs.get(llamaOf[format]!.name)!;
            let same = 0;
            while (same < Math.min(a.length, b.length) && a[same] === b[same]) same++;
            const stat = agree.get(format) ?? { same: 0, total: 0 };
            agree.set(format, { same: stat.same + same, total: stat.total + Math.max(a.length, b.length) });
          }
        }
      }
      const tokS = Object.fromEntries([...rates].map(([name, r]) => [name, median(r)]));
      for (const [name, rate] of Object.entries(tokS))
        process.stderr.write(`threads ${threads}  ${name.padEnd(28)} ${rate.toFixed(1)} tok/s\n`);
      const ratio = (a: string, b: string) => (tokS[a] && tokS[b] ? tokS[a]! / tokS[b]! : null);
      const entry = {
        threads,
        tokensPerSecond: tokS,
        ratios: {
          plainFp32OverLlamaF32: ratio('treespec plain fp32', 'node-llama-cpp plain f32'),
          plainFp16OverLlamaF16: ratio('treespec plain fp16', 'node-llama-cpp plain f16'),
          plainInt8OverLlamaQ8: ratio('treespec plain int8', 'node-llama-cpp plain q8_0'),
          ...(args.before
            ? {
                beforeFp32OverLlamaF32: ratio('treespec plain fp32 before', 'node-llama-cpp plain f32'),
                beforeInt8OverLlamaQ8: ratio('treespec plain int8 before', 'node-llama-cpp plain q8_0'),
              }
            : {}),
          eagle2Fp32OverLlamaF32: ratio('treespec EAGLE-2 fp32', 'node-llama-cpp plain f32'),
        },
        greedyPrefixAgreement: Object.fromEntries(agree),
      };
      // One JSON line per thread count as soon as it is measured, then the whole report.
      process.stdout.write(`${JSON.stringify(entry)}\n`);
      report.push(entry);
      for (const g of generators) await g.dispose();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(
    `${JSON.stringify({ prompts: prompts.length, tokens, rounds, threads: args.threads, report }, null, 2)}\n`,
  );
}

await main();
