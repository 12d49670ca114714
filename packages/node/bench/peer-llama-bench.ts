/**
 * treespec against the llama.cpp binary itself (`llama-bench`) on the same tiny target weights,
 * round by round in one script: each round runs `treespec bench` (plain decoding, EAGLE-2 and the
 * CPU's default drafter, the hybrid, as the `treespec` command runs them: with huge pages where
 * they apply), then `llama-bench` on every GGUF file given, at each thread count. The
 * machine's drift hits every system of a round alike; the report gives medians over rounds and
 * the ratios within each round. Greedy; treespec decodes after each development prompt
 * (`--prompts` of them, `--tokens` new tokens, prefill excluded), llama-bench generates
 * `--tokens` after a 100-token context (`-p 0 -d 100`), so the workloads are close, not identical.
 * JSON on stdout (`--json` also writes it to a file), a table on stderr. Not a test.
 *
 * llama.cpp is not part of the workspace: build `llama-bench` from its source and write the GGUF
 * files with ../shared/tools/hf-to-gguf-tiny.py (docs/benchmarks.md, "The llama.cpp binary
 * itself"); build treespec first (`pnpm build`), since this runs the built `treespec` command.
 *
 *   pnpm -s --filter @treespec/node bench:llama-bench --llama-bench <path> --gguf <f32.gguf,q8_0.gguf> [--threads 1,2] [--rounds 3] [--prompts 10] [--tokens 128] [--json out.json]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

const { values: args } = parseArgs({
  options: {
    'llama-bench': { type: 'string' },
    gguf: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    rounds: { type: 'string', default: '3' },
    prompts: { type: 'string', default: '10' },
    tokens: { type: 'string', default: '128' },
    json: { type: 'string' },
  },
});
if (!args['llama-bench'] || !args.gguf) {
  throw new Error(
    '--llama-bench <path to the llama-bench binary> and --gguf <comma-separated GGUF files> are required',
  );
}
const llamaBench = resolve(args['llama-bench']);
const ggufs = args.gguf.split(',').map((f) => resolve(f.trim()));
const threads = args.threads.split(',').map(Number);
const rounds = Number(args.rounds);
const tokens = args.tokens;

interface Round {
  load: number;
  /** tokens/s per system. */
  rates: Record<string, number>;
}

/** tokens/s of plain decoding, EAGLE-2 and the hybrid from one `treespec bench` run. */
async function treespec(threadCount: number, json: string): Promise<[number, number, number]> {
  await run(
    process.execPath,
    [CLI, 'bench', '--drafters', 'eagle2,hybrid', '--limit', args.prompts, '-n', tokens, '-t', '0'].concat([
      '--threads',
      String(threadCount),
      '--no-tuning-cache',
      '--no-progress',
      '--json',
      json,
    ]),
    { maxBuffer: 1 << 24 },
  );
  type Row = { tokensPerSecond: { baseline: number; speculative: number }; identical: boolean };
  const report = JSON.parse(await readFile(json, 'utf8')) as {
    runs: Array<{ drafters: Record<'eagle2' | 'hybrid', { overall: Row }> }>;
  };
  const { eagle2, hybrid } = report.runs[0]!.drafters;
  if (!eagle2.overall.identical || !hybrid.overall.identical)
    throw new Error('treespec bench: speculative output differs from plain decoding');
  return [
    eagle2.overall.tokensPerSecond.baseline,
    eagle2.overall.tokensPerSecond.speculative,
    hybrid.overall.tokensPerSecond.speculative,
  ];
}

/** tokens/s of llama-bench's generation on one GGUF file. */
async function llama(gguf: string, threadCount: number): Promise<number> {
  const { stdout } = await run(
    llamaBench,
    ['-m', gguf, '-p', '0', '-n', tokens, '-d', '100', '-t', String(threadCount), '-r', '2', '-o', 'json'],
    { maxBuffer: 1 << 24 },
  );
  return (JSON.parse(stdout) as Array<{ avg_ts: number }>)[0]!.avg_ts;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const scratch = await mkdtemp(join(tmpdir(), 'treespec-llama-bench-'));
const report: Record<string, unknown> = {
  tokens: Number(tokens),
  prompts: Number(args.prompts),
  byThreads: {},
};
try {
  for (const threadCount of threads) {
    const all: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      const round: Round = { load: loadavg()[0]!, rates: {} };
      const json = join(scratch, 'bench.json');
      [
        round.rates['treespec plain fp32'],
        round.rates['treespec EAGLE-2 fp32'],
        round.rates['treespec hybrid fp32 (default)'],
      ] = await treespec(threadCount, json);
      for (const gguf of ggufs)
        round.rates[`llama.cpp ${basename(gguf, '.gguf')}`] = await llama(gguf, threadCount);
      all.push(round);
      process.stderr.write(`threads ${threadCount} round ${r + 1}: ${JSON.stringify(round)}\n`);
    }
    const systems = Object.keys(all[0]!.rates);
    const reference = systems.find((s) => s.startsWith('llama.cpp'))!;
    const rows = systems.map((system) => ({
      system,
      tokensPerSecond: median(all.map((r) => r.rates[system]!)),
      ratioToReferenceByRound: all.map((r) => r.rates[system]! / r.rates[reference]!),
    }));
    (report.byThreads as Record<string, unknown>)[threadCount] = {
      reference,
      loadAverage: all.map((r) => r.load),
      rows,
    };
    process.stderr.write(`\n${threadCount} thread(s), ratios to ${reference} per round:\n`);
    for (const row of rows) {
      process.stderr.write(
        `${row.system.padEnd(36)} ${row.tokensPerSecond.toFixed(1).padStart(8)} tok/s  ${row.ratioToReferenceByRound.map((x) => x.toFixed(2)).join(' ')}\n`,
      );
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
const text = `${JSON.stringify(report, null, 2)}\n`;
process.stdout.write(text);
if (args.json) await writeFile(args.json, text);
