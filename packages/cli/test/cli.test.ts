import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFile, link, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec, manifestHash } from '@treespec/node';
import { MAX_CORPUS_LENGTH } from '@treespec/planner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTuning } from '../src/commands/tune.js';
import { runProgram } from '../src/index.js';

const CHECKPOINTS = fileURLToPath(new URL('../../model-tiny/checkpoints/', import.meta.url));
const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runProgram(['node', 'treespec', ...args], {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'treespec-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('treespec convert and inspect', () => {
  it('converts the tiny draft LM and an EAGLE head, then lists them', async () => {
    const out = join(dir, 'bundle');
    const draft = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-draft'),
      '--out',
      out,
      '--role',
      'draft',
    );
    expect(draft).toMatchObject({ code: 0, err: '' });
    expect(draft.out).toMatch(
      /^draft draft: draft\.onnx \([\d.]+ MB\) in [\d.]+ s; manifest .*treespec\.json\n$/,
    );
    const head = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-eagle2'),
      '-o',
      out,
      '-r',
      'eagle-head',
      '-t',
      join(CHECKPOINTS, 'treespec-tiny'),
      '--max-context',
      '512',
      '--weights',
      'int8',
    );
    expect(head.code).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
    expect(
      manifest.models.map((m: { id: string; dims: { maxContext: number }; weightFormat: string }) => [
        m.id,
        m.dims.maxContext,
        m.weightFormat,
      ]),
    ).toEqual([
      ['draft', 2048, 'fp32'],
      ['eagle-head', 512, 'int8'],
    ]);
    expect(manifest.models[1].quantization).toMatchObject({ bits: 8, blockSize: 32, symmetric: true });
    const inspect = await run('inspect', out);
    expect(inspect.code).toBe(0);
    const lines = inspect.out.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /^draft\s+draft\s+draft\.onnx {2}vocab 8192, hidden 192, 3 layers, heads 6\/2 x 32, ctx 2048/,
    );
    expect(lines[2]).toContain('base=treespec-tiny');
    expect(lines[2]).toContain('float32/int8');
    // The file column lines up, whatever the ids' and roles' lengths.
    expect(new Set(lines.slice(1).map((line) => line.search(/\S+\.onnx {2}/))).size).toBe(1);
  });

  it('converts with --weights w8a8 and lists the format', async () => {
    const out = join(dir, 'w8a8');
    const converted = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-draft'),
      '-o',
      out,
      '-r',
      'draft',
      '--weights',
      'w8a8',
    );
    expect(converted).toMatchObject({ code: 0, err: '' });
    const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
    expect(manifest.models[0]).toMatchObject({ id: 'draft', weightFormat: 'w8a8' });
    expect(manifest.models[0].quantization).toBeUndefined();
    const inspect = await run('inspect', out);
    expect(inspect.out).toContain('float32/w8a8');
  });

  it('converts a target with --attention in-place and lists its layout', async () => {
    const out = join(dir, 'in-place');
    const converted = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny'),
      '-o',
      out,
      '--attention',
      'in-place',
      '--max-context',
      '256',
    );
    expect(converted.code).toBe(0);
    const manifest = JSON.parse(await readFile(join(out, 'treespec.json'), 'utf8'));
    expect(manifest.models[0]).toMatchObject({
      attention: 'in-place',
      kvCache: { layout: 'bnsh', present: 'new-only' },
    });
    const lines = (await run('inspect', out)).out.trim().split('\n');
    expect(lines[1]).toContain('float32/fp32, in-place attention, kv bnsh');
  });

  it('converts a target with --eagle3-layers, then an EAGLE-3 head and an FR-Spec EAGLE-2 head, and lists what they record', async () => {
    const out = join(dir, 'eagle3');
    const target = join(CHECKPOINTS, 'treespec-tiny');
    const converted = await run('convert', target, '-o', out, '--eagle3-layers', '--max-context', '256');
    expect(converted).toMatchObject({ code: 0, err: '' });
    const head = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-eagle3'),
      '-o',
      out,
      '-r',
      'eagle-head',
      '-t',
      target,
    );
    expect(head).toMatchObject({ code: 0, err: '' });
    expect(head.out).toMatch(/^eagle3-head eagle3-head: eagle3-head\.onnx/);
    const corpus = join(CHECKPOINTS, 'treespec-tiny-generated-frequencies.json');
    const frSpec = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-eagle2'),
      '-o',
      out,
      '-r',
      'eagle-head',
      '-t',
      target,
      '--draft-vocab',
      '1024',
      '--draft-vocab-corpus',
      corpus,
      '--draft-vocab-context',
      '256',
    );
    expect(frSpec).toMatchObject({ code: 0, err: '' });
    const lines = (await run('inspect', out)).out.trim().split('\n');
    expect(lines[1]).toMatch(/^target .* captured layers 2,4,5$/);
    expect(lines[2]).toMatch(
      /^eagle3-head .* base=target captured layers 2,4,5 draft vocab 2048 \(eagle3-d2t\)$/,
    );
    expect(lines[3]).toMatch(
      /^eagle-head .* base=target draft vocab 1024 \(frequency\) \+ up to 256 context tokens$/,
    );
    const tooBig = await run(
      'convert',
      join(CHECKPOINTS, 'treespec-tiny-eagle2'),
      '-o',
      out,
      '-r',
      'eagle-head',
      '-t',
      target,
      '--draft-vocab',
      '9000',
      '--draft-vocab-corpus',
      corpus,
    );
    expect(tooBig.code).not.toBe(0);
    expect(tooBig.err).toBe(
      'error: option "--draft-vocab" must be an integer in [1, 8192] (the target\'s vocabulary); got 9000\n',
    );
  }, 120_000);

  it.each([
    [['convert', 'x'], "error: required option '-o, --out <dir>' not specified"],
    [
      ['convert', 'x', '-o', 'y', '--role', 'head'],
      "error: option '-r, --role <role>' argument 'head' is invalid",
    ],
    [
      ['convert', 'x', '-o', 'y', '--max-context', '0'],
      "error: option '--max-context <n>' argument '0' is invalid. expected an integer >= 1",
    ],
    [
      ['generate', 'x', '--head-prompt-rows', '-1'],
      "error: option '--head-prompt-rows <n>' argument '-1' is invalid. expected an integer >= 0",
    ],
    [
      ['convert', 'x', '-o', 'y', '--role', 'eagle-head'],
      'error: option "--target" must be the target checkpoint directory',
    ],
    [
      ['convert', 'x', '-o', 'y', '--draft-vocab-context', '8'],
      'error: option "--draft-vocab-context" must be given together with --draft-vocab; got 8',
    ],
    [
      ['convert', 'x', '-o', 'y', '--weights', 'int3'],
      "error: option '--weights <format>' argument 'int3' is invalid",
    ],
    [
      ['convert', 'x', '-o', 'y', '--weights', 'int4', '--block-size', '24'],
      "error: option '--block-size <n>' argument '24' is invalid. expected a power of two >= 16",
    ],
    [
      ['convert', 'x', '-o', 'y', '--weights', 'int8', '--linear', 'matmul'],
      'error: option "--linear" must be given only with --weights fp32',
    ],
    [
      ['convert', 'x', '-o', 'y', '--weights', 'w8a8', '--block-size', '64'],
      'error: option "--block-size" must be given only with --weights int8 or int4',
    ],
    [
      ['convert', 'x', '-o', 'y', '--asymmetric'],
      'error: option "--asymmetric" must be given only with --weights int8 or int4',
    ],
    [
      ['convert', 'x', '-o', 'y', '--attention', 'flash'],
      "error: option '--attention <layout>' argument 'flash' is invalid",
    ],
    [
      ['convert', 'x', '-o', 'y', '--attention-precision', 'float16'],
      "error: option '--attention-precision <p>' argument 'float16' is invalid",
    ],
    [
      ['convert', 'x', '-o', 'y', '-r', 'eagle-head', '-t', 'z', '--attention-precision', 'float64'],
      'error: option "--attention-precision" must be given only with --role target or draft',
    ],
    [
      [
        'convert',
        join(CHECKPOINTS, 'treespec-tiny'),
        '-o',
        join(tmpdir(), 'treespec-never'),
        '--max-context',
        '99999',
      ],
      'error: option "--max-context" must be an integer in [1, ',
    ],
    [
      ['tune', '-m', join(tmpdir(), 'treespec-no-bundle')],
      `error: ${join(tmpdir(), 'treespec-no-bundle', 'treespec.json')}: no treespec manifest here`,
    ],
    [
      ['bench', '--contexts', '100,abc'],
      "error: option '--contexts <list>' argument '100,abc' is invalid. expected a comma-separated list of integers >= 1",
    ],
    [
      ['bench', '--contexts', '5000', '--limit', '1', '-n', '4', '-t', '0', '--no-progress'],
      'error: option "--contexts" must be a list of lengths of at most 2044 (the target\'s context window of 2048 tokens less --max-tokens 4); got 5000',
    ],
    [
      ['bench', '-t', ','],
      "error: option '-t, --temperature <list>' argument ',' is invalid. expected a comma-separated list of numbers >= 0",
    ],
    [
      ['bench', '-t', '0,0x1'],
      "error: option '-t, --temperature <list>' argument '0,0x1' is invalid. expected a comma-separated list of numbers >= 0",
    ],
    [['generate', 'x', '-n', '0x10'], "error: option '-n, --max-tokens <n>' argument '0x10' is invalid"],
    [['serve', '--port', '99999'], "argument '99999' is invalid. expected an integer in [0, 65535]"],
    [
      ['serve', '--api-key', ''],
      'error: option "--api-key" must be a non-empty key; unset it to serve without a key',
    ],
    [
      ['serve', '--chat-template', join(tmpdir(), 'treespec-no-template.jinja')],
      'error: option "--chat-template" must be an existing file; there is no file at that path',
    ],
    [
      ['generate', '--stop', 'X', 'Once upon a time'],
      "error: missing required argument 'prompt' (if you gave it after a list flag such as --stop",
    ],
    [
      [
        'convert',
        join(CHECKPOINTS, 'treespec-tiny-draft'),
        '-o',
        join(tmpdir(), 'treespec-never'),
        '-r',
        'draft',
        '--eagle3-layers',
        '1,2',
      ],
      'error: option "--eagle3-layers" must be given only for a target',
    ],
    [
      ['tune', '-d', 'eagle3', '--write'],
      'error: option "--write" must be left out for eagle3 in a bundle that also has the eagle2 drafter\'s model',
    ],
    [
      [
        'convert',
        join(CHECKPOINTS, 'treespec-tiny-draft'),
        '-o',
        join(CHECKPOINTS, 'treespec-tiny-draft', 'config.json', 'x'),
      ],
      `error: option "--out" must be a folder that can be made; making ${join(CHECKPOINTS, 'treespec-tiny-draft', 'config.json', 'x')} failed (ENOTDIR)`,
    ],
    [
      ['generate', 'Hi', '-d', 'draft-lm', '--draft-top-k', '300', '--draft-depth', '5'],
      'error: option "--draft-top-k/--draft-frontier/--draft-depth/--draft-tokens" must be a budget whose drafted nodes',
    ],
    [['inspect'], "error: missing required argument 'dir'\n"],
    [['frobnicate'], "error: unknown command 'frobnicate'"],
  ])('exits 1 with a one-line message for %j', async (args, message) => {
    const { code, err } = await run(...args);
    expect(code).toBe(1);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain(message);
  });

  it('finishes a bench --json report when the reader of its stdout has gone away', async () => {
    const json = join(dir, 'closed-stdout.json');
    const child = spawn(
      process.execPath,
      [
        BIN,
        'bench',
        '--drafters',
        'lookup',
        '--limit',
        '2',
        '-n',
        '4',
        '-t',
        '0',
        '--no-progress',
        '--json',
        json,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    child.stdout!.destroy();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const report = JSON.parse(await readFile(json, 'utf8')) as {
      drafters: string[];
      prompts: unknown[];
      settings: { limit: number; temperatures: number[]; rounds: number };
    };
    expect(report.drafters).toEqual(['lookup']);
    expect(report.prompts).toHaveLength(2);
    expect(report.settings).toMatchObject({ limit: 2, temperatures: [0], rounds: 1 });
  }, 120_000);

  it('refuses a drafter named twice and prompt files with a line that is not an object or an id used twice', async () => {
    const twice = await run(
      'bench',
      '--drafters',
      'lookup,lookup',
      '--limit',
      '1',
      '-n',
      '4',
      '--no-progress',
    );
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('option "--drafters" must be a comma-separated list of distinct drafters');
    const nullLine = join(dir, 'null-line.jsonl');
    await writeFile(nullLine, '{"id":"a","prompt":"Hi"}\nnull\n');
    const refused = await run('bench', '-p', nullLine, '-n', '4', '--no-progress');
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(`error: ${nullLine}: line 2 is not an object {"id", "prompt"}\n`);
    const sameId = join(dir, 'same-id.jsonl');
    await writeFile(sameId, '{"id":"a","prompt":"Hi"}\n{"id":"a","prompt":"Ho"}\n');
    const repeated = await run('bench', '-p', sameId, '-n', '4', '--no-progress');
    expect(repeated.err).toBe(`error: ${sameId}: line 2 repeats the id "a" of an earlier prompt\n`);
  });

  it('refuses a --corpus file that is binary, and files too large together, before loading', async () => {
    const binary = join(dir, 'corpus.bin');
    await writeFile(binary, Buffer.from([0x47, 0x49, 0x46, 0x00, 0x01]));
    const text = join(dir, 'corpus.txt');
    await writeFile(text, 'A document.');
    const huge = join(dir, 'corpus-huge.txt');
    await writeFile(huge, '');
    await truncate(huge, MAX_CORPUS_LENGTH);
    const binaryRun = await run('generate', '-d', 'suffix', '--corpus', text, binary, '--', 'Hi');
    expect(binaryRun.code).toBe(1);
    expect(binaryRun.err).toBe(
      `error: option "--corpus" must be text files; this one has a NUL character at character 3 (a binary file, or text in UTF-16?); got "${binary}"\n`,
    );
    const hugeRun = await run('generate', '-d', 'suffix', '--corpus', text, huge, '--', 'Hi');
    expect(hugeRun.code).toBe(1);
    expect(hugeRun.err).toContain(
      `error: option "--corpus" must be files of at most ${MAX_CORPUS_LENGTH} bytes (32 MiB) in all; these hold ${MAX_CORPUS_LENGTH + 11}`,
    );
  });

  it('exits 1 naming the file when the checkpoint is not there', async () => {
    const missing = join(dir, 'nothing-here');
    const { code, err } = await run('convert', missing, '-o', join(dir, 'o'));
    expect(code).toBe(1);
    expect(err).toBe(
      `error: ${join(missing, 'config.json')}: cannot read config.json: ENOENT: no such file or directory, open '${join(missing, 'config.json')}'\n`,
    );
  });

  it('exits 1 for a directory without a manifest', async () => {
    const { code, err } = await run('inspect', dir);
    expect(code).toBe(1);
    expect(err).toMatch(/^error: .*treespec\.json: no treespec manifest here; convert a checkpoint first/);
  });
});

describe('treespec generate with the bundle’s default drafter', () => {
  it('chats with a model without a chat template through --chat-template, and says so without one', async () => {
    const bundle = join(dir, 'untemplated');
    await mkdir(bundle);
    const manifest = JSON.parse(await readFile(join(tinyModelDirectory(), 'treespec.json'), 'utf8'));
    for (const model of manifest.models as { tokenizer: { files: string[] } }[]) {
      model.tokenizer.files = model.tokenizer.files.filter((f) => f !== 'chat_template.jinja');
    }
    for (const name of await readdir(tinyModelDirectory())) {
      if (name === 'treespec.json' || name === 'chat_template.jinja') continue;
      const from = join(tinyModelDirectory(), name);
      await link(from, join(bundle, name)).catch(() => copyFile(from, join(bundle, name)));
    }
    await writeFile(join(bundle, 'treespec.json'), JSON.stringify(manifest));
    const refused = await run('generate', 'Hi', '--chat', '-m', bundle, '-n', '4');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(
      /^error: option "--chat" must be given with a model that has a chat template, or with --chat-template <file>/,
    );
    const template = join(dir, 'plain.jinja');
    await writeFile(template, '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}');
    const chatted = await run(
      'generate',
      'Hi',
      '--chat',
      '--chat-template',
      template,
      '-m',
      bundle,
      '-n',
      '4',
    );
    expect(chatted.code, chatted.err).toBe(0);
    expect(chatted.out).toBe((await run('generate', 'Hi', '-m', bundle, '-n', '4')).out);
  });

  it('generates from a bundle without an EAGLE head when no --drafter is named', async () => {
    const bundle = join(dir, 'headless');
    await mkdir(bundle);
    const manifest = JSON.parse(await readFile(join(tinyModelDirectory(), 'treespec.json'), 'utf8'));
    const head = manifest.models.filter((m: { role: string }) => m.role === 'eagle-head');
    const headFiles = new Set(
      head.flatMap((m: { file: string; externalData?: string[] }) => [m.file, ...(m.externalData ?? [])]),
    );
    manifest.models = manifest.models.filter((m: { role: string }) => m.role !== 'eagle-head');
    for (const name of await readdir(tinyModelDirectory())) {
      if (name === 'treespec.json' || headFiles.has(name)) continue;
      const from = join(tinyModelDirectory(), name);
      await link(from, join(bundle, name)).catch(() => copyFile(from, join(bundle, name)));
    }
    await writeFile(join(bundle, 'treespec.json'), JSON.stringify(manifest));
    const plain = await run('generate', 'Once upon a time', '-m', bundle, '-n', '8', '--drafter', 'none');
    const r = await run('generate', 'Once upon a time', '-m', bundle, '-n', '8', '--compare');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(plain.out);
    // Without an EAGLE head the CPU's default, the hybrid, drafts with the bundle's EAGLE-3 head
    // (it loads no model the bundle's own default, eagle3, would not).
    expect(r.err).toMatch(/^speculative \(hybrid\): 8 tokens/m);
    const json = await run('generate', 'Once upon a time', '-m', bundle, '-n', '8', '--json');
    const generated = JSON.parse(json.out);
    expect(generated).toMatchObject({ drafter: 'hybrid', text: plain.out.trim() });
    const eagle3 = await run(
      'generate',
      'Once upon a time',
      '-m',
      bundle,
      '-n',
      '8',
      '--json',
      '--drafter',
      'eagle3',
    );
    const drafted = JSON.parse(eagle3.out);
    expect(drafted).toMatchObject({ drafter: 'eagle3', text: plain.out.trim() });
    // The budget controller's account comes with the statistics: every step it decided, all but
    // a last token taken alone (decoded without a draft).
    expect(drafted.stats.controller.steps).toBeGreaterThanOrEqual(drafted.stats.steps - 1);
    expect(drafted.stats.controller.steps).toBeLessThanOrEqual(drafted.stats.steps);
  }, 120_000);
});

describe('treespec generate -', () => {
  it('reads the prompt from stdin, and warns of sampling flags a greedy generation does not use', async () => {
    const direct = await run('generate', 'Once upon a time', '-n', '6', '--drafter', 'none');
    const piped = spawnSync(
      process.execPath,
      [BIN, 'generate', '-', '-n', '6', '--drafter', 'none', '--top-p', '0.5', '--seed', '3'],
      { input: 'Once upon a time\n', encoding: 'utf8' },
    );
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(direct.out);
    expect(piped.stderr).toContain(
      'warning: --top-p, --seed have no effect at temperature 0 (greedy); give -t above 0 to sample\n',
    );
    expect(direct.err).not.toContain('warning');
  }, 120_000);

  it('warns, in flag terms and once per flag, of flags that no drafter of the load reads', async () => {
    const lookup = await run(
      'generate',
      'Once upon a time',
      '-n',
      '4',
      '-d',
      'lookup',
      '--tree-depth',
      '2',
      '--hybrid-policy',
      'match',
      '--draft-sampling',
    );
    const warnings = (err: string) => err.split('\n').filter((line) => /^(warning|treespec):/.test(line));
    expect(lookup.code).toBe(0);
    // --draft-sampling is named once: the load's warning says more than the greedy one.
    expect(warnings(lookup.err)).toEqual([
      'treespec: option "--tree-top-k/--tree-frontier/--tree-depth/--tree-tokens" is read only by the eagle2 and eagle3 drafters, alone or as the hybrid’s base, and this load has lookup; it is ignored',
      'treespec: option "--(no-)draft-sampling" is read only by the model drafters (eagle2, eagle3, draft-lm), alone or as the hybrid’s base, and this load has lookup; it is ignored',
      'treespec: option "--hybrid-policy" is read only by the hybrid drafter, and this load has lookup; it is ignored',
    ]);
    const hybrid = await run(
      'generate',
      'Once upon a time',
      '-n',
      '4',
      '-d',
      'hybrid',
      '--tree-depth',
      '2',
      '--draft-sampling',
    );
    expect(warnings(hybrid.err)).toEqual([
      'warning: --(no-)draft-sampling has no effect at temperature 0 (greedy); give -t above 0 to sample',
    ]);
  }, 120_000);
});

describe('treespec tune --write', () => {
  it("stores a budget in the bundle's manifest, where the next load on that device starts from", async () => {
    const bundle = join(dir, 'tuned');
    await mkdir(bundle);
    for (const name of await readdir(tinyModelDirectory())) {
      const from = join(tinyModelDirectory(), name);
      if (name === 'treespec.json') await copyFile(from, join(bundle, name));
      // Hard links: a bundle's files may not be symlinks out of it.
      else await link(from, join(bundle, name)).catch(() => copyFile(from, join(bundle, name)));
    }
    const file = join(bundle, 'treespec.json');
    const untuned = await readFile(file, 'utf8');
    await writeTuning(file, 'cpu', 'tree', { topK: 2, frontier: 1, depth: 2, totalTokens: 5 });
    await writeTuning(file, 'cpu', 'draftTree', { topK: 2, frontier: 1, depth: 1, totalTokens: 4 });
    const manifest = JSON.parse(await readFile(file, 'utf8'));
    expect(manifest.tuning).toEqual({
      cpu: {
        tree: { topK: 2, frontier: 1, depth: 2, totalTokens: 5 },
        draftTree: { topK: 2, frontier: 1, depth: 1, totalTokens: 4 },
      },
    });
    // The step costs `tune` saved before writing the budget still name this bundle.
    expect(manifestHash(await readFile(file, 'utf8'))).toBe(manifestHash(untuned));
    // Top-k trees only: sampled draft trees (the default under auto) keep their own shape.
    const generator = await loadTreespec(bundle, { drafters: ['eagle2', 'draft-lm'], draftSampling: false });
    try {
      expect(generator.drafters.eagle2?.maxTreeSize).toBe(5);
      expect(generator.drafters['draft-lm']?.maxTreeSize).toBe(4);
    } finally {
      await generator.dispose();
    }
  });
});

describe('treespec tune', () => {
  it('tunes a draft LM without warning of the EAGLE tree budget it does not load', async () => {
    const r = await run('tune', '-d', 'draft-lm', '--limit', '1', '-n', '4', '--no-progress', '--no-save');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^k\d+ f\d+ d\d+ n\d+ +[\d.]+ /m);
    expect(r.err).not.toContain('is read only by');
  }, 120_000);
});

describe('treespec bench', () => {
  it('measures each budget mode on its own generator against plain decoding on that generator', async () => {
    const json = join(dir, 'bench.json');
    const r = await run(
      'bench',
      '--drafters',
      'eagle2',
      '--budgets',
      'auto,fixed',
      '-n',
      '8',
      '-t',
      '0',
      '--limit',
      '2',
      '--no-tuning-cache',
      '--no-progress',
      '--calls',
      '--draft-depth',
      '2',
      '--json',
      json,
    );
    expect(r.code).toBe(0);
    // The flag no drafter reads is named once, though each budget mode loads the bundle.
    expect(
      r.err.split('option "--draft-top-k/--draft-frontier/--draft-depth/--draft-tokens" is read only'),
    ).toHaveLength(2);
    // Notes go to stderr: stdout holds the tables only.
    expect(r.err).toContain(`report written to ${json}`);
    expect(r.out).not.toContain('written to');
    expect(r.out).toMatch(/^eagle2\/auto +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+x +[\d.]+ +yes$/m);
    expect(r.out).toMatch(/^eagle2\/fixed +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+x +[\d.]+ +yes$/m);
    const report = JSON.parse(await readFile(json, 'utf8'));
    const rows = report.runs[0].drafters;
    const auto = rows['eagle2/auto'].overall;
    const fixed = rows['eagle2/fixed'].overall;
    // Each mode has its own plain runs: the same greedy tokens, timed on its own generator.
    expect(auto.tokens.baseline).toBe(16);
    expect(fixed.tokens.baseline).toBe(16);
    expect(auto.seconds.baseline).not.toBe(fixed.seconds.baseline);
    expect(fixed.controller.plainShare).toBe(0);
    // It decides every step but each generation's last, which drafts nothing.
    expect(auto.controller.steps).toBeGreaterThanOrEqual(auto.controller.ofSteps - 2);
    expect(auto.controller.steps).toBeLessThanOrEqual(auto.controller.ofSteps);
    expect(r.out).toMatch(
      /^ {2}eagle2\/auto: decided \d+ of \d+ steps: plain \d+% probes \d+% .*\| plain step ([\d.]+ ms|untimed), /m,
    );
    // --calls: every model call of the runs, grouped. Plain runs: the prefill and one 1-row call a token.
    expect(r.out).toMatch(
      /^ {2}eagle2\/fixed: calls, plain: target 1 row [\d.]+ ms \(16\), \d+ rows .*\(medians, calls\)$/m,
    );
    expect(r.out).toMatch(
      /^ {2}eagle2\/fixed: calls, speculative: target .*; drafter after a target call [\d.]+ ms \(\d+, [\d.]+ rows\), after its own/m,
    );
    expect(fixed.calls.plain.targetByRows['1'].calls).toBe(16);
    expect(fixed.calls.plain.drafterAfterTarget.calls).toBe(0);
    const verified = Object.values(
      fixed.calls.speculative.targetByRows as Record<string, { calls: number }>,
    ).reduce((sum, g) => sum + g.calls, 0);
    expect(verified).toBe(fixed.targetCalls.speculative);
    expect(fixed.calls.speculative.drafterAfterTarget.calls).toBeGreaterThan(0);
    // What the numbers were measured on.
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(typeof report.machine.hugePages).toBe('boolean');
    expect(report.machine.loadAverage.start).toBeGreaterThanOrEqual(0);
  }, 120_000);
});

describe('treespec bench --rounds', () => {
  it('sums every round into the rows and reports each round’s speed-up', async () => {
    const json = join(dir, 'rounds.json');
    const r = await run(
      'bench',
      '--drafters',
      'lookup',
      '-n',
      '8',
      '-t',
      '0',
      '--limit',
      '2',
      '--rounds',
      '3',
      '--no-progress',
      '--json',
      json,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^ {2}lookup: speed-up by round [\d.]+x [\d.]+x [\d.]+x \(range [\d.]+–[\d.]+x\)$/m,
    );
    // Six prompt runs (two prompts, three rounds): the speed-up with its bootstrap interval.
    expect(r.out).toMatch(
      /^ {2}lookup: speed-up ([\d.]+)x, 95 % interval ([\d.]+)–([\d.]+)x over prompts \(bootstrap\)$/m,
    );
    const report = JSON.parse(await readFile(json, 'utf8'));
    const { speedup, speedupInterval } = report.overall;
    expect(speedupInterval).toMatchObject({ level: 0.95, resamples: 2000 });
    expect(speedupInterval.low).toBeLessThanOrEqual(speedup);
    expect(speedupInterval.high).toBeGreaterThanOrEqual(speedup);
    expect(report.overall.roundSpeedups).toHaveLength(3);
    expect(report.overall.tokens.baseline).toBe(2 * 8 * 3);
    // One row per prompt, over its three rounds.
    expect(report.prompts.map((p: { id: string }) => p.id)).toHaveLength(2);
    expect(report.prompts[0].tokens.baseline).toBe(8 * 3);
  }, 120_000);
});

describe('treespec generate --compare', () => {
  it('prints the text once, both runs, and the speed-up with identical greedy output', async () => {
    const r = await run('generate', 'Once upon a time', '--max-tokens', '12', '--compare');
    expect(r.code).toBe(0);
    expect(r.out.trim().length).toBeGreaterThan(0);
    expect(r.out.split('\n').filter((line) => line.trim() !== '')).toHaveLength(1);
    expect(r.err).toMatch(
      /^speculative \(hybrid\): 12 tokens in [\d.]+ s after a [\d.]+ s prompt read, [\d.]+ tok\/s, tau [\d.]+/m,
    );
    // What the budget controller chose, right under the run it chose for.
    // The hybrid's controller decides the steps its model drafter takes.
    expect(r.err).toMatch(
      /^speculative \(hybrid\).*\nbudget controller( \(the \d+ of \d+ steps its model drafter took\))?: \d+ of \d+ steps plain/m,
    );
    expect(r.err).toMatch(
      /^plain: 12 tokens in [\d.]+ s after a [\d.]+ s prompt read, [\d.]+ tok\/s, tau 1\.00/m,
    );
    expect(r.err).toMatch(/^speed-up over plain decoding: [\d.]+x, identical output$/m);
  }, 120_000);

  it('lets an EAGLE head read a window of the prompt as asked, to the same text', async () => {
    const prompt = 'The committee met on Tuesday to review the budget for the coming year, and after';
    const r = await run(
      'generate',
      prompt,
      '-n',
      '12',
      '--drafter',
      'eagle2',
      '--head-prompt-rows',
      '4',
      '--compare',
    );
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^speculative \(eagle2\): 12 tokens/m);
    expect(r.err).toMatch(/^speed-up over plain decoding: [\d.]+x, identical output$/m);
  }, 120_000);
});
