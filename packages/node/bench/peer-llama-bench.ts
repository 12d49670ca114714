/**
 * treespec against llama.cpp's own binaries on the same tiny target weights, round by round in
 * one script: each round runs `treespec bench` (plain decoding, EAGLE-2, the model-free `lookup`
 * drafter and the CPU's default drafter, the hybrid, as the `treespec` command runs them: with
 * huge pages where they apply), then `llama-bench` on every GGUF file given, at each thread count;
 * with `--llama-completion` and `--llama-speculative`, also llama.cpp's plain decoding and its
 * n-gram speculation (`llama-speculative-simple --spec-type …`) of the same development prompts.
 * With `--int8-bundle` (a bundle whose target and head were converted with `--weights int8`),
 * treespec's int8 target runs too, against the GGUF file whose name holds `q8_0`; the fp32 target
 * runs against the one whose name holds `f32`. The machine's drift hits every system of a round
 * alike; the report gives medians over rounds and each row's ratio, within each round, to
 * llama.cpp's plain decoding of its format: `llama-completion`'s of the same prompts where given
 * (its decode time alone, sampling left out), else llama-bench's. Greedy; treespec decodes after
 * each development prompt (`--prompts` of them, `--tokens` new tokens, prefill excluded),
 * llama-bench generates `--tokens` after a 100-token context (`-p 0 -d 100`), and the other
 * llama.cpp programs after each prompt (their decode rate; they tokenize the prompt's text
 * themselves, which differs from tokenizer.json on a few rare words), so the workloads are close,
 * not identical. JSON on stdout (`--json` also writes it to a file), a table on stderr. Not a test.
 *
 * llama.cpp is not part of the workspace: build its programs from its source and write the GGUF
 * files with ../shared/tools/hf-to-gguf-tiny.py (docs/benchmarks.md, "The llama.cpp binary
 * itself"); build treespec first (`pnpm build`), since this runs the built `treespec` command.
 *
 *   pnpm -s --filter @treespec/node bench:llama-bench --llama-bench <path> --gguf <f32.gguf,q8_0.gguf>
 *     [--llama-completion <path>] [--llama-speculative <path>] [--spec-types ngram-simple,ngram-mod]
 *     [--int8-bundle <dir>] [--threads 1,2] [--rounds 3] [--prompts 10] [--tokens 128] [--json out.json]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { tinyDevPrompts } from '@treespec/model-tiny/node';
import { median } from './median.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

const { values: args } = parseArgs({
  options: {
    'llama-bench': { type: 'string' },
    'llama-completion': { type: 'string' },
    'llama-speculative': { type: 'string' },
    'spec-types': { type: 'string', default: 'ngram-simple,ngram-mod' },
    gguf: { type: 'string' },
    'int8-bundle': { type: 'string' },
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
const llamaCompletion = args['llama-completion'] ? resolve(args['llama-completion']) : null;
const llamaSpeculative = args['llama-speculative'] ? resolve(args['llama-speculative']) : null;
const specTypes = args['spec-types'].split(',').map((t) => t.trim());
const ggufs = args.gguf.split(',').map((f) => resolve(f.trim()));
const int8Bundle = args['int8-bundle'] ? resolve(args['int8-bundle']) : null;
const threads = args.threads.split(',').map(Number);
const rounds = Number(args.rounds);
const tokens = args.tokens;
const prompts = tinyDevPrompts()
  .slice(0, Number(args.prompts))
  .map((p) => p.prompt);

/** A weight format, the GGUF type of the same weights and its file (matched by name). */
const FORMATS = [
  { name: 'fp32', ggufType: 'f32' },
  { name: 'int8', ggufType: 'q8_0' },
].map((f) => ({ ...f, gguf: ggufs.find((file) => basename(file).toLowerCase().includes(f.ggufType)) }));
for (const { name, ggufType, gguf } of FORMATS) {
  if (!gguf && (name === 'fp32' || int8Bundle))
    throw new Error(
      `--gguf needs a ${ggufType} file (a name holding "${ggufType}") to compare treespec ${name} with`,
    );
}

interface Round {
  load: number;
  /** tokens/s per system. */
  rates: Record<string, number>;
}

/** Each system's weight format, whose llama.cpp plain decoding its ratios are taken against. */
const referenceOf = new Map<string, string>();
const record = (round: Round, system: string, format: string, rate: number) => {
  round.rates[system] = rate;
  referenceOf.set(system, format);
};

/** tokens/s of plain decoding and each drafter from one `treespec bench` run. */
async function treespec(
  threadCount: number,
  json: string,
  drafters: readonly string[],
  bundle: string | null,
): Promise<{ plain: number; speculative: Record<string, number> }> {
  await run(
    process.execPath,
    [CLI, 'bench', '--drafters', drafters.join(','), '--limit', args.prompts, '-n', tokens, '-t', '0']
      .concat(bundle ? ['-m', bundle] : [])
      .concat(['--threads', String(threadCount), '--no-tuning-cache', '--no-progress', '--json', json]),
    { maxBuffer: 1 << 24 },
  );
  type Row = { tokensPerSecond: { baseline: number; speculative: number }; identical: boolean };
  const report = JSON.parse(await readFile(json, 'utf8')) as {
    runs: Array<{ drafters: Record<string, { overall: Row }> }>;
  };
  const rows = report.runs[0]!.drafters;
  const speculative: Record<string, number> = {};
  for (const drafter of drafters) {
    const { overall } = rows[drafter]!;
    if (!overall.identical)
      throw new Error(`treespec bench: ${drafter}'s output differs from plain decoding`);
    speculative[drafter] = overall.tokensPerSecond.speculative;
  }
  return { plain: rows[drafters[0]!]!.overall.tokensPerSecond.baseline, speculative };
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

/**
 * Runs a llama.cpp program and matches its timing line. llama.cpp logs from a thread of its own,
 * and a process that exits right after generating sometimes loses its last lines: such a run is
 * repeated, up to three tries.
 */
async function timedRun(
  program: string,
  argv: readonly string[],
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  let output = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const { stdout, stderr } = await run(program, argv, { maxBuffer: 1 << 24 });
    output = `${stdout}\n${stderr}`;
    const match = output.match(pattern);
    if (match) return match;
  }
  throw new Error(
    `${basename(program)} printed no decode timing in 3 tries (${argv.slice(2).join(' ')}); its output ended:\n${output.slice(-600)}`,
  );
}

/**
 * Decode tokens/s of a llama.cpp program over the prompts: the tokens and seconds it reports for
 * each prompt (`pattern` captures them), summed.
 */
async function llamaOverPrompts(
  program: string,
  extra: readonly string[],
  pattern: RegExp,
  toTokensSeconds: (match: RegExpMatchArray) => [number, number],
): Promise<number> {
  let totalTokens = 0;
  let totalSeconds = 0;
  for (const prompt of prompts) {
    const match = await timedRun(program, ['-p', prompt, '-n', tokens, '--temp', '0', ...extra], pattern);
    const [n, seconds] = toTokensSeconds(match);
    totalTokens += n;
    totalSeconds += seconds;
  }
  return totalTokens / totalSeconds;
}

/** llama.cpp's plain decoding of the prompts (`llama-completion`'s eval timing). */
const llamaPlain = (gguf: string, threadCount: number) =>
  llamaOverPrompts(
    llamaCompletion!,
    ['-m', gguf, '-t', String(threadCount), '-no-cnv'],
    /eval time =\s*([\d.]+) ms \/\s*(\d+) runs/,
    (m) => [Number(m[2]), Number(m[1]) / 1000],
  );

/** llama.cpp's speculation of the prompts (`llama-speculative-simple --spec-type type`). */
const llamaSpec = (gguf: string, threadCount: number, type: string) =>
  llamaOverPrompts(
    llamaSpeculative!,
    ['-m', gguf, '-t', String(threadCount), '--spec-type', type],
    /decoded\s+(\d+) tokens in\s+([\d.]+) seconds/,
    (m) => [Number(m[1]), Number(m[2])],
  );

/**
 * The row every ratio of a format is taken against: llama.cpp's plain decoding of the same
 * prompts (`llama-completion`) where given, the closest workload to treespec's, else llama-bench's.
 */
const llamaPlainName = (gguf: string) =>
  `llama.cpp ${basename(gguf, '.gguf')} ${llamaCompletion ? 'plain' : '(llama-bench)'}`;

const scratch = await mkdtemp(join(tmpdir(), 'treespec-llama-bench-'));
const report: Record<string, unknown> = {
  tokens: Number(tokens),
  prompts: prompts.length,
  byThreads: {},
};
try {
  for (const threadCount of threads) {
    const all: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      const round: Round = { load: loadavg()[0]!, rates: {} };
      const json = join(scratch, 'bench.json');
      const fp32 = await treespec(threadCount, json, ['eagle2', 'lookup', 'hybrid'], null);
      record(round, 'treespec plain fp32', 'fp32', fp32.plain);
      record(round, 'treespec EAGLE-2 fp32', 'fp32', fp32.speculative.eagle2!);
      record(round, 'treespec lookup fp32', 'fp32', fp32.speculative.lookup!);
      record(round, 'treespec hybrid fp32 (default)', 'fp32', fp32.speculative.hybrid!);
      if (int8Bundle) {
        const int8 = await treespec(threadCount, json, ['lookup', 'hybrid'], int8Bundle);
        record(round, 'treespec plain int8', 'int8', int8.plain);
        record(round, 'treespec lookup int8', 'int8', int8.speculative.lookup!);
        record(round, 'treespec hybrid int8 (default)', 'int8', int8.speculative.hybrid!);
      }
      for (const { name, gguf } of FORMATS) {
        if (!gguf) continue;
        const label = basename(gguf, '.gguf');
        record(round, `llama.cpp ${label} (llama-bench)`, name, await llama(gguf, threadCount));
        if (llamaCompletion) record(round, llamaPlainName(gguf), name, await llamaPlain(gguf, threadCount));
        if (llamaSpeculative)
          for (const type of specTypes)
            record(round, `llama.cpp ${label} ${type}`, name, await llamaSpec(gguf, threadCount, type));
      }
      all.push(round);
      process.stderr.write(`threads ${threadCount} round ${r + 1}: ${JSON.stringify(round)}\n`);
    }
    const systems = Object.keys(all[0]!.rates);
    const references = new Map<string, string>(
      FORMATS.filter((f) => f.gguf).map((f) => [f.name, llamaPlainName(f.gguf!)]),
    );
    const rows = systems.map((system) => {
      const reference = references.get(referenceOf.get(system)!)!;
      return {
        system,
        reference,
        tokensPerSecond: median(all.map((r) => r.rates[system]!)),
        ratioToReferenceByRound: all.map((r) => r.rates[system]! / r.rates[reference]!),
      };
    });
    (report.byThreads as Record<string, unknown>)[threadCount] = {
      loadAverage: all.map((r) => r.load),
      rows,
    };
    process.stderr.write(
      `\n${threadCount} thread(s), ratios per round to llama.cpp's plain decoding of the same format (${llamaCompletion ? 'llama-completion, same prompts' : 'llama-bench'}):\n`,
    );
    for (const row of rows) {
      process.stderr.write(
        `${row.system.padEnd(40)} ${row.tokensPerSecond.toFixed(1).padStart(8)} tok/s  ${row.ratioToReferenceByRound.map((x) => x.toFixed(2)).join(' ')}\n`,
      );
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
const text = `${JSON.stringify(report, null, 2)}\n`;
process.stdout.write(text);
if (args.json) await writeFile(args.json, text);
