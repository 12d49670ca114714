import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CliCase } from '../cli-case.js';
import { faultBundle, flipBit, TINY } from '../fault-bundle.js';
import {
  type CheckpointFault,
  editHeader,
  faultCheckpoint,
  firstTensor,
  TORCH_FIXTURES,
  tempFolder,
  writeHeader,
} from '../fault-checkpoint.js';
import { linkedCopy } from '../linked-copy.js';

const PROMPT = 'The history of the city begins in';

function cli(
  id: string,
  fault: string,
  args: (dir: string) => string[],
  code: number,
  err: RegExp,
  out?: RegExp,
): CliCase {
  return { id, fault, expect: { code, err, ...(out ? { out } : {}) }, args: ({ dir }) => args(dir) };
}

/** `treespec convert` of a faulty copy of the tiny draft checkpoint. */
function convert(
  id: string,
  fault: string,
  checkpoint: CheckpointFault,
  err: RegExp,
  extra: string[] = [],
): CliCase {
  return {
    id,
    fault,
    expect: { code: 1, err },
    args: ({ dir }) => [
      'convert',
      faultCheckpoint(checkpoint),
      '--out',
      join(dir, 'out'),
      '--role',
      'draft',
      ...extra,
    ],
  };
}

/** Command-line misuse and faulty checkpoints given to `treespec convert`. */
export const CLI_CASES: readonly CliCase[] = [
  cli('cli-no-command', 'no command at all', () => [], 1, /Usage: treespec/),
  cli(
    'cli-unknown-command',
    'an unknown command',
    () => ['gnerate', 'x'],
    1,
    /error: unknown command 'gnerate'/,
  ),
  cli(
    'cli-unknown-flag',
    'an unknown flag',
    () => ['generate', PROMPT, '--frobnicate'],
    1,
    /error: unknown option '--frobnicate'/,
  ),
  cli(
    'cli-missing-prompt',
    '`generate` without a prompt',
    () => ['generate'],
    1,
    /error: missing required argument 'prompt'/,
  ),
  cli(
    'cli-empty-prompt',
    '`generate ""`',
    () => ['generate', ''],
    1,
    /error: the prompt must be a non-empty string/,
  ),
  cli(
    'cli-max-tokens-negative',
    '`-n -5`',
    () => ['generate', PROMPT, '-n', '-5'],
    1,
    /error: option '-n, --max-tokens <n>' argument '-5' is invalid\. expected an integer >= 1/,
  ),
  cli(
    'cli-max-tokens-text',
    '`-n many`',
    () => ['generate', PROMPT, '-n', 'many'],
    1,
    /argument 'many' is invalid\. expected an integer >= 1/,
  ),
  cli(
    'cli-max-tokens-exponent',
    '`--max-tokens 1e12` with a 48-token context',
    () => ['generate', PROMPT, '--max-tokens', '1e12', '--max-context', '48', '--json'],
    0,
    /^$/,
    /"finishReason":"context"/,
  ),
  cli(
    'cli-temperature-text',
    '`-t hot`',
    () => ['generate', PROMPT, '-t', 'hot'],
    1,
    /argument 'hot' is invalid\. expected a number/,
  ),
  cli(
    'cli-top-p-two',
    '`--top-p 2`',
    () => ['generate', PROMPT, '-t', '1', '--top-p', '2', '-n', '2'],
    1,
    /error: option "--top-p" must be/,
  ),
  cli(
    'cli-drafter-unknown',
    '`-d turbo`',
    () => ['generate', PROMPT, '-d', 'turbo'],
    1,
    /argument 'turbo' is invalid\. Allowed choices are eagle2, eagle3, draft-lm/,
  ),
  cli(
    'cli-provider-unknown',
    '`--provider tpu`',
    () => ['generate', PROMPT, '--provider', 'tpu'],
    1,
    /Allowed choices are cpu, webgpu, cuda/,
  ),
  cli(
    'cli-model-missing',
    '`--model` a folder that does not exist',
    (dir) => ['generate', PROMPT, '--model', join(dir, 'nope')],
    1,
    /nope\/treespec\.json: no treespec manifest here; convert a checkpoint first with `treespec convert`/,
  ),
  cli(
    'cli-model-is-file',
    '`--model` a file',
    () => ['generate', PROMPT, '--model', join(TINY, 'tokenizer.json')],
    1,
    /tokenizer\.json\/treespec\.json: no treespec manifest here/,
  ),
  cli(
    'cli-models-unknown',
    '`--models nope`',
    () => ['generate', PROMPT, '--models', 'nope'],
    1,
    /error: option "--models" must be an id of .*got "nope"/,
  ),
  cli(
    'cli-tree-product',
    '`--tree-top-k 4096 --tree-depth 1023`',
    () => ['generate', PROMPT, '--tree-top-k', '4096', '--tree-depth', '1023'],
    1,
    /error: option "--tree-top-k\/--tree-frontier\/--tree-depth\/--tree-tokens" must be a budget whose drafted nodes \(1 \+ topK \+ depth × frontier × topK = \d+\) are at most 65536/,
  ),
  cli(
    'cli-max-context-zero',
    '`--max-context 0`',
    () => ['generate', PROMPT, '--max-context', '0'],
    1,
    /argument '0' is invalid\. expected an integer >= 1/,
  ),
  cli(
    'cli-threads-many',
    '`--threads 256` on a small machine (warned before anything else runs)',
    () => ['generate', '', '--threads', '256'],
    1,
    /^warning: --threads 256 is more than the \d+ CPUs here; .*with --threads \d+\nerror: the prompt/,
  ),
  cli(
    'cli-prompts-missing',
    '`bench --prompts` a missing file (refused before the bench runs)',
    (dir) => ['bench', '--prompts', join(dir, 'missing.jsonl')],
    1,
    /error: option "--prompts" must be an existing file; there is no file at that path; got ".*missing\.jsonl"/,
  ),
  cli(
    'cli-prompts-folder',
    '`bench --prompts` a folder',
    (dir) => ['bench', '--prompts', dir],
    1,
    /error: option "--prompts" must be a file; that path is a directory/,
  ),
  cli(
    'cli-prompts-not-jsonl',
    '`bench --prompts` a file of plain text',
    (dir) => {
      writeFileSync(join(dir, 'p.txt'), 'hello\n');
      return ['bench', '--prompts', join(dir, 'p.txt'), '-n', '2'];
    },
    1,
    /p\.txt/,
  ),
  cli(
    'cli-corpus-missing',
    '`--corpus` a missing file',
    (dir) => ['generate', PROMPT, '-d', 'suffix', '--corpus', join(dir, 'corpus.txt')],
    1,
    /error: option "--corpus" must be an existing file/,
  ),
  cli(
    'cli-corpus-binary',
    '`--corpus` a binary file',
    (dir) => {
      writeFileSync(join(dir, 'corpus.bin'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x00, 0x01]));
      return ['generate', PROMPT, '-d', 'suffix', '--corpus', join(dir, 'corpus.bin')];
    },
    1,
    /error: option "--corpus" must be text files; this one has a NUL character at character 5 \(a binary file, or text in UTF-16\?\)/,
  ),
  cli(
    'cli-corpus-oversized',
    '`--corpus` files of more than 32 MiB together (a sparse file: nothing read)',
    (dir) => {
      writeFileSync(join(dir, 'big.txt'), '');
      truncateSync(join(dir, 'big.txt'), 40 * 1024 * 1024);
      return ['generate', PROMPT, '-d', 'suffix', '--corpus', join(dir, 'big.txt')];
    },
    1,
    /error: option "--corpus" must be files of at most 33554432 bytes \(32 MiB\) in all; these hold 41943040/,
  ),
  cli(
    'cli-bench-json-missing-folder',
    '`bench --json` into a missing folder (refused before the bench runs)',
    (dir) => ['bench', '--json', join(dir, 'no', 'report.json')],
    1,
    /error: option "--json" must be a file in an existing folder; .*\/no does not exist/,
  ),
  cli(
    'cli-bench-json-is-folder',
    '`bench --json` naming a folder',
    (dir) => ['bench', '--json', dir],
    1,
    /error: option "--json" must be a file path; that path is a directory/,
  ),
  cli(
    'cli-tune-json-missing-folder',
    '`tune --json` into a missing folder',
    (dir) => ['tune', '--json', join(dir, 'no', 'tune.json')],
    1,
    /error: option "--json" must be a file in an existing folder/,
  ),
  cli(
    'cli-inspect-missing',
    '`inspect` a missing folder',
    (dir) => ['inspect', join(dir, 'nope')],
    1,
    /nope/,
  ),
  cli(
    'cli-inspect-corrupt',
    '`inspect` a bundle whose manifest is corrupt',
    (dir) => {
      writeFileSync(join(dir, 'treespec.json'), '{"format":');
      return ['inspect', dir];
    },
    1,
    /treespec\.json: not valid JSON/,
  ),
  cli(
    'cli-inspect-verify',
    '`inspect --verify` an intact bundle',
    () => ['inspect', TINY, '--verify'],
    0,
    /^$/,
    /verified the sha256 of 14 files\n$/,
  ),
  cli(
    'cli-inspect-verify-bitflip',
    '`inspect --verify` a bundle with a bit flipped in its weights',
    () => ['inspect', faultBundle({ files: { 'draft.onnx.data': (b) => flipBit(b, 1000, 1) } }), '--verify'],
    1,
    /draft\.onnx\.data: sha256 is [0-9a-f]{64}, but treespec\.sha256 recorded/,
  ),
  cli(
    'cli-convert-out-file',
    '`convert --out` an existing file',
    (dir) => {
      writeFileSync(join(dir, 'a-file'), 'text');
      return ['convert', faultCheckpoint(), '--out', join(dir, 'a-file'), '--role', 'draft'];
    },
    1,
    /error: option "--out" must be a folder to write the bundle into; it is a file/,
  ),
  cli(
    'cli-convert-out-below-file',
    '`convert --out` a folder below a file',
    (dir) => {
      writeFileSync(join(dir, 'a-file'), 'text');
      return ['convert', faultCheckpoint(), '--out', join(dir, 'a-file', 'bundle'), '--role', 'draft'];
    },
    1,
    /error: option "--out" must be a folder that can be made; making .*a-file.bundle failed \(E[A-Z]+\)/,
  ),
  cli(
    'convert-missing-checkpoint',
    '`convert` a folder that does not exist',
    (dir) => ['convert', join(dir, 'nope'), '--out', join(dir, 'out')],
    1,
    /nope/,
  ),
  cli(
    'convert-role-unknown',
    '`convert --role tokenizer`',
    (dir) => ['convert', faultCheckpoint(), '--out', join(dir, 'out'), '--role', 'tokenizer'],
    1,
    /Allowed choices are/,
  ),
  cli(
    'convert-head-without-target',
    '`convert --role eagle-head` without `--target`',
    (dir) => ['convert', faultCheckpoint(), '--out', join(dir, 'out'), '--role', 'eagle-head'],
    1,
    /--target/,
  ),
  cli(
    'convert-id-unsafe',
    '`convert --id ../escape`',
    (dir) => [
      'convert',
      faultCheckpoint(),
      '--out',
      join(dir, 'out'),
      '--role',
      'draft',
      '--id',
      '../escape',
    ],
    1,
    /option "--id" must be a file-name-safe id/,
  ),
  {
    id: 'convert-corrupt-existing-manifest',
    fault: '`convert` into a folder whose treespec.json is corrupt',
    expect: { code: 1, err: /out\/treespec\.json: not valid JSON/ },
    args: ({ dir }) => {
      mkdirSync(join(dir, 'out'));
      writeFileSync(join(dir, 'out', 'treespec.json'), '{"format":');
      return ['convert', faultCheckpoint(), '--out', join(dir, 'out'), '--role', 'draft'];
    },
    after: ({ dir }) => {
      const left = readdirSync(join(dir, 'out'));
      if (left.join() !== 'treespec.json') throw new Error(`orphan files left: ${left.join(', ')}`);
    },
  },
  {
    id: 'convert-id-of-another-role',
    fault: '`convert` a draft LM into a bundle under its target’s id (`--id target`)',
    expect: {
      code: 1,
      err: /option "--id" must be an id that no model of another role has .* "target" is its target/,
    },
    args: ({ dir }) => {
      mkdirSync(join(dir, 'bundle'));
      linkedCopy(TINY, join(dir, 'bundle'));
      return [
        'convert',
        faultCheckpoint(),
        '--out',
        join(dir, 'bundle'),
        '--role',
        'draft',
        '--id',
        'target',
      ];
    },
    after: ({ dir }) => {
      const left = readdirSync(join(dir, 'bundle')).sort();
      const tiny = readdirSync(TINY).sort();
      if (left.join() !== tiny.join()) throw new Error(`the bundle's files changed: ${left.join(', ')}`);
      for (const name of tiny) {
        if (!readFileSync(join(dir, 'bundle', name)).equals(readFileSync(join(TINY, name))))
          throw new Error(`${name} changed`);
      }
    },
  },
  convert('ckpt-no-config', 'checkpoint without config.json', { remove: ['config.json'] }, /config\.json/),
  convert(
    'ckpt-config-not-json',
    'config.json is not JSON',
    { configText: '{ "hidden_size": ' },
    /config\.json/,
  ),
  convert(
    'ckpt-config-no-hidden',
    'config.json lacks hidden_size',
    {
      config: (c) => {
        delete c.hidden_size;
      },
    },
    /"hidden_size" must be an integer >= 1; found null/,
  ),
  convert(
    'ckpt-config-hidden-string',
    'hidden_size is a string',
    {
      config: (c) => {
        c.hidden_size = '192';
      },
    },
    /"hidden_size" must be an integer >= 1; found "192"/,
  ),
  convert(
    'ckpt-config-vocab-zero',
    'vocab_size 0',
    {
      config: (c) => {
        c.vocab_size = 0;
      },
    },
    /"vocab_size" must be an integer >= 1; found 0/,
  ),
  convert(
    'ckpt-config-heads',
    'num_attention_heads not a multiple of num_key_value_heads',
    {
      config: (c) => {
        c.num_key_value_heads = 4;
      },
    },
    /num_attention_heads 6 is not a multiple of num_key_value_heads 4/,
  ),
  convert(
    'ckpt-config-gelu',
    'hidden_act gelu',
    {
      config: (c) => {
        c.hidden_act = 'gelu';
      },
    },
    /hidden_act "gelu" is not supported/,
  ),
  convert(
    'ckpt-config-architecture',
    'an architecture treespec does not know',
    {
      config: (c) => {
        c.architectures = ['BertModel'];
        c.model_type = 'bert';
      },
    },
    /BertModel/,
  ),
  convert(
    'ckpt-rope-5e6',
    'max_position_embeddings 5 000 000 (a 1.3 GB RoPE table)',
    {
      config: (c) => {
        c.max_position_embeddings = 5_000_000;
      },
    },
    /error: option "--max-context" must be given \(--max-context <n>, at most 5000000\) when the config's max_position_embeddings \(5000000\) exceeds the 131072 positions/,
  ),
  convert(
    'ckpt-rope-1e8',
    'max_position_embeddings 100 000 000',
    {
      config: (c) => {
        c.max_position_embeddings = 100_000_000;
      },
    },
    /max_position_embeddings \(100000000\) exceeds the 131072/,
  ),
  convert(
    'ckpt-rope-override-too-big',
    'max_position_embeddings 5e6 and `--max-context` above it',
    {
      config: (c) => {
        c.max_position_embeddings = 5_000_000;
      },
    },
    /option "--max-context" must be .*5000000/,
    ['--max-context', '6000000'],
  ),
  convert('st-missing', 'no model.safetensors', { remove: ['model.safetensors'] }, /safetensors/),
  convert(
    'pt-runs-code',
    'pytorch_model.bin whose pickle calls os.system',
    { remove: ['model.safetensors'], add: { 'pytorch_model.bin': join(TORCH_FIXTURES, 'runs-code.bin') } },
    /pytorch_model\.bin: data\.pkl: refuses the pickled global (posix|os)\.system/,
  ),
  convert(
    'pt-legacy',
    'pytorch_model.bin in the format before torch 1.6',
    { remove: ['model.safetensors'], add: { 'pytorch_model.bin': join(TORCH_FIXTURES, 'legacy.bin') } },
    /pytorch_model\.bin: is a PyTorch checkpoint in the format before torch 1\.6/,
  ),
  convert(
    'st-empty',
    'model.safetensors is empty',
    { safetensors: () => new Uint8Array(0) },
    /model\.safetensors: file is 0 bytes; a safetensors file starts with an 8-byte header length/,
  ),
  convert(
    'st-truncated',
    'model.safetensors cut in half',
    { safetensors: (b) => b.subarray(0, b.length >> 1) },
    /model\.safetensors: file is \d+ bytes but tensor ".*" ends at byte \d+ \(\d+ bytes missing; was the download cut short\?\)/,
  ),
  convert(
    'st-header-length-huge',
    'header length 2^40',
    {
      safetensors: (b) => {
        const c = Buffer.from(b);
        c.writeBigUInt64LE(1n << 40n);
        return c;
      },
    },
    /header length is 1099511627776 bytes; expected 2\.\./,
  ),
  convert(
    'st-header-past-end',
    'header length past the end of the file',
    {
      safetensors: (b) => {
        const c = Buffer.from(b.subarray(0, 4000));
        c.writeBigUInt64LE(4000n);
        return c;
      },
    },
    /model\.safetensors: header needs 4008 bytes but the file has only 4000/,
  ),
  convert(
    'st-header-not-json',
    'header is not JSON',
    { safetensors: (b) => writeHeader('{"model.embed_tokens.weight": {', readHeaderData(b)) },
    /header is not valid UTF-8 JSON/,
  ),
  convert(
    'st-header-array',
    'header is a JSON array',
    { safetensors: (b) => writeHeader('[1,2,3]', readHeaderData(b)) },
    /header must be a JSON object of tensors/,
  ),
  convert(
    'st-dtype-f64',
    'a tensor of dtype F64',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).dtype = 'F64';
      }),
    },
    /tensor "model\.embed_tokens\.weight": F64 \[8192,192\] needs 12582912 bytes but data_offsets \[0,3145728\] span 3145728/,
  ),
  convert(
    'st-dtype-unknown',
    'a tensor of dtype Q4',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).dtype = 'Q4';
      }),
    },
    /unknown dtype Q4/,
  ),
  convert(
    'st-dtype-number',
    'a dtype that is a number',
    {
      safetensors: editHeader((h) => {
        (firstTensor(h) as { dtype: unknown }).dtype = 7;
      }),
    },
    /dtype must be a string; found 7/,
  ),
  convert(
    'st-offsets-out-of-range',
    'data offsets past the end of the file',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).data_offsets = [0, 1e12];
      }),
    },
    /model\.safetensors/,
  ),
  convert(
    'st-offsets-reversed',
    'data offsets with begin after end',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).data_offsets = [100, 50];
      }),
    },
    /model\.safetensors: tensor "model\.embed_tokens\.weight"/,
  ),
  convert(
    'st-offsets-negative',
    'negative data offsets',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).data_offsets = [-8, 3145720];
      }),
    },
    /model\.safetensors: tensor "model\.embed_tokens\.weight"/,
  ),
  convert(
    'st-offsets-overlap',
    'two tensors overlapping',
    {
      safetensors: editHeader((h) => {
        const names = Object.keys(h)
          .filter((k) => k !== '__metadata__')
          .sort();
        const a = h[names[1]!] as { data_offsets: number[] };
        const first = firstTensor(h);
        a.data_offsets = [
          first.data_offsets[0]!,
          first.data_offsets[0]! + (a.data_offsets[1]! - a.data_offsets[0]!),
        ];
      }),
    },
    /overlap/,
  ),
  convert(
    'st-shape-mismatch',
    'a shape whose size disagrees with its offsets',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).shape = [8192, 193];
      }),
    },
    /model\.safetensors: tensor "model\.embed_tokens\.weight"/,
  ),
  convert(
    'st-shape-negative',
    'a negative dimension',
    {
      safetensors: editHeader((h) => {
        firstTensor(h).shape = [-8192, 192];
      }),
    },
    /shape must be a list of non-negative integers/,
  ),
  convert(
    'st-missing-tensor',
    'a tensor the architecture needs is absent',
    {
      safetensors: editHeader((h) => {
        const name = 'model.norm.weight';
        h['model.norm.renamed'] = h[name]!;
        delete h[name];
      }),
    },
    /model\.norm\.weight/,
  ),
  convert(
    'st-wrong-shape-for-model',
    'a tensor of the wrong shape for the config',
    {
      config: (c) => {
        c.hidden_size = 96;
        c.num_attention_heads = 3;
        c.num_key_value_heads = 1;
      },
    },
    /shape|192/,
  ),
  convert(
    'ckpt-no-tokenizer',
    'checkpoint without tokenizer.json',
    { remove: ['tokenizer.json'] },
    /tokenizer\.json/,
  ),
];

function readHeaderData(file: Buffer): Buffer {
  return file.subarray(8 + Number(file.readBigUInt64LE(0)));
}

/** Makes the temp folder a case runs in. */
export function caseFolder(): string {
  return tempFolder('treespec-cli-');
}
