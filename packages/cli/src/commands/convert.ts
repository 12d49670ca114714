import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  BlockQuantizedWeights,
  convertCausalLM,
  convertEagleHead,
  Fp16Weights,
  Fp32Weights,
  PRODUCED_WEIGHT_FORMATS,
  W8A8Weights,
  type WeightFormat,
} from '@treespec/convert';
import { OptionError } from '@treespec/core';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { abortOnSignal } from '../abort-on-signal.js';

interface ConvertFlags {
  out: string;
  role: 'target' | 'draft' | 'eagle-head';
  target?: string;
  id?: string;
  maxContext?: number;
  linear: 'gemm' | 'matmul';
  weights: 'fp32' | 'fp16' | 'int8' | 'int4' | 'w8a8';
  blockSize: number;
  asymmetric?: boolean;
  eagle3Layers?: number[] | true;
  draftVocab?: number;
  draftVocabCorpus?: string;
  draftVocabContext?: number;
  attention: 'plain' | 'in-place' | 'fused';
  attentionPrecision?: 'float32' | 'float64';
  chatTemplate?: string;
}

function layerList(value: string): number[] {
  const items = value.split(',').map((v) => v.trim());
  const layers = items.map(Number);
  if (items.some((v) => v === '') || layers.some((l) => !Number.isInteger(l) || l < 0))
    throw new InvalidArgumentError('expected comma-separated layer indices, e.g. 2,16,29');
  return layers;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1');
  return n;
}

function blockSize(value: string): number {
  const n = positiveInt(value);
  if (n < 16 || (n & (n - 1)) !== 0) throw new InvalidArgumentError('expected a power of two >= 16');
  return n;
}

/** The weight format the flags ask for; quantization flags only with a quantized format and --linear only with fp32. */
function weightFormatOf(flags: ConvertFlags, command: Command): WeightFormat {
  const given = (name: string) => command.getOptionValueSource(name) === 'cli';
  const blockQuantized = flags.weights === 'int8' || flags.weights === 'int4';
  if (!blockQuantized) {
    for (const [name, flag] of [
      ['blockSize', '--block-size'],
      ['asymmetric', '--asymmetric'],
    ] as const) {
      if (given(name)) throw new OptionError(flag, flags[name], 'given only with --weights int8 or int4');
    }
  }
  if (flags.weights !== 'fp32' && given('linear'))
    throw new OptionError('--linear', flags.linear, 'given only with --weights fp32');
  if (flags.weights === 'fp32') return new Fp32Weights(flags.linear);
  if (flags.weights === 'fp16') return new Fp16Weights();
  if (flags.weights === 'w8a8') return new W8A8Weights();
  return new BlockQuantizedWeights(flags.weights === 'int8' ? 8 : 4, {
    blockSize: flags.blockSize,
    symmetric: !flags.asymmetric,
  });
}

/** `treespec convert <checkpoint> --out <dir> [--role …] [--target <dir>]`. */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description(
      'convert a Hugging Face checkpoint (config.json + safetensors or pytorch_model.bin) into treespec ONNX models',
    )
    .argument('<checkpoint>', 'checkpoint directory')
    .requiredOption(
      '-o, --out <dir>',
      'output directory (models converted into one directory share its treespec.json)',
    )
    .addOption(
      new Option('-r, --role <role>', 'what the checkpoint is')
        .choices(['target', 'draft', 'eagle-head'])
        .default('target'),
    )
    .option(
      '-t, --target <dir>',
      "the target's checkpoint directory (required for --role eagle-head; EAGLE-1/2 and EAGLE-3 heads are recognised)",
    )
    .option(
      '--id <id>',
      'manifest id and file name of the model (default: the role; eagle3-head for an EAGLE-3 head); an id of a model of another role in the bundle is refused',
    )
    .option(
      '--max-context <n>',
      'positions covered by the RoPE tables (default: max_position_embeddings)',
      positiveInt,
    )
    .addOption(
      new Option(
        '--weights <format>',
        "weights of the linear layers: fp32, fp16 (half storage, fp32 arithmetic), int8/int4 block-quantized for MatMulNBits, or w8a8 (int8 weights per channel times int8 activations per row, MatMulInteger: trees verify at little more than a token's cost on CPUs) (quantized: ONNX Runtime only)",
      )
        .choices(PRODUCED_WEIGHT_FORMATS)
        .default('fp32'),
    )
    .option(
      '--block-size <n>',
      'int8/int4: weights per quantization block (a power of two >= 16)',
      blockSize,
      32,
    )
    .option('--asymmetric', 'int8/int4: store a zero point per block (default: symmetric blocks)')
    .option(
      '--draft-vocab <k>',
      'EAGLE-2 head or draft LM, FR-Spec: draft over the K most frequent target tokens only',
      positiveInt,
    )
    .option(
      '--draft-vocab-corpus <file>',
      'with --draft-vocab: a UTF-8 text file to count tokens in (target tokenizer), or a token-frequency JSON file',
    )
    .option(
      '--draft-vocab-context <n>',
      "with --draft-vocab, EAGLE-2 head: also score up to n tokens of the generation's own prompt and output outside the K",
      positiveInt,
    )
    .option(
      '--eagle3-layers [layers]',
      'target: also output the inputs of these layers for an EAGLE-3 head (bare: 2, L/2, L-3); EAGLE-3 head: the layers it fuses when its config does not say',
      layerList,
    )
    .addOption(
      new Option(
        '--attention <layout>',
        'target: plain MatMul/Softmax attention over the concatenated cache (every provider), in-place (the same ops reading a head-major cache where it lies: faster on the CPU for long contexts of real-size models; sums in float32), or fused GroupQueryAttention over a shared KV buffer',
      )
        .choices(['plain', 'in-place', 'fused'])
        .default('plain'),
    )
    .addOption(
      new Option(
        '--attention-precision <p>',
        'target, plain attention: sum the softmax and the values in float32 or float64 (default: float64 when the weights quantize activations, int8/int4, so that tree verification computes each row bit for bit as a plain step does; float32 otherwise)',
      ).choices(['float32', 'float64']),
    )
    .option(
      '--chat-template <file>',
      'target: a Jinja chat template written into the bundle, for a base model whose tokenizer has none',
    )
    .addOption(
      new Option('--linear <op>', 'fp32: operator for linear layers')
        .choices(['gemm', 'matmul'])
        .default('gemm'),
    )
    .action(async (checkpoint: string, flags: ConvertFlags, command: Command) => {
      const started = performance.now();
      const interrupted = (signal: string) =>
        process.stderr.write(
          `treespec convert: ${signal}: stopped; ${flags.out} is as it was before the conversion (a folder it made is removed)\n`,
        );
      const common = {
        checkpoint: resolve(checkpoint),
        out: resolve(flags.out),
        id: flags.id,
        maxContext: flags.maxContext,
        weightFormat: weightFormatOf(flags, command),
      };
      // The flag given is named: the other one's value would only read "undefined".
      if (flags.draftVocab === undefined && flags.draftVocabCorpus !== undefined)
        throw new OptionError(
          '--draft-vocab-corpus',
          flags.draftVocabCorpus,
          'given together with --draft-vocab <K>, the size of the draft vocabulary it counts',
        );
      if (flags.draftVocab !== undefined && flags.draftVocabCorpus === undefined)
        throw new OptionError(
          '--draft-vocab',
          flags.draftVocab,
          'given together with --draft-vocab-corpus <file>, the text whose token frequencies choose it',
        );
      if (flags.draftVocabContext !== undefined && flags.draftVocab === undefined)
        throw new OptionError(
          '--draft-vocab-context',
          flags.draftVocabContext,
          'given together with --draft-vocab',
        );
      const draftVocab =
        flags.draftVocab !== undefined
          ? {
              draftVocab: {
                size: flags.draftVocab,
                corpus: resolve(flags.draftVocabCorpus!),
                ...(flags.draftVocabContext !== undefined ? { contextTokens: flags.draftVocabContext } : {}),
              },
            }
          : {};
      if (flags.chatTemplate !== undefined && flags.role !== 'target')
        throw new OptionError('--chat-template', flags.chatTemplate, 'given only with --role target');
      let result: Awaited<ReturnType<typeof convertCausalLM>>;
      if (flags.role === 'eagle-head') {
        if (!flags.target)
          throw new OptionError(
            '--target',
            undefined,
            'the target checkpoint directory when --role is eagle-head',
          );
        if (flags.eagle3Layers === true)
          throw new OptionError('--eagle3-layers', true, 'a list of layers with --role eagle-head');
        if (flags.attention !== 'plain')
          throw new OptionError('--attention', flags.attention, 'plain for --role eagle-head');
        if (flags.attentionPrecision !== undefined)
          throw new OptionError(
            '--attention-precision',
            flags.attentionPrecision,
            'given only with --role target or draft',
          );
        const options = {
          ...common,
          target: resolve(flags.target),
          ...(flags.eagle3Layers ? { eagle3Layers: flags.eagle3Layers } : {}),
          ...draftVocab,
        };
        result = await abortOnSignal((signal) => convertEagleHead({ ...options, signal }), interrupted);
      } else {
        if (flags.target)
          throw new OptionError('--target', flags.target, 'given only with --role eagle-head');
        if (flags.draftVocab !== undefined && flags.role === 'target')
          throw new OptionError(
            '--draft-vocab',
            flags.draftVocab,
            'given only with --role draft or eagle-head',
          );
        const eagle3Layers = flags.eagle3Layers === true ? ('reference' as const) : flags.eagle3Layers;
        const options = {
          ...common,
          role: flags.role,
          attention: flags.attention,
          ...(flags.attentionPrecision ? { graph: { attentionPrecision: flags.attentionPrecision } } : {}),
          ...(eagle3Layers ? { eagle3Layers } : {}),
          ...(flags.chatTemplate !== undefined
            ? { chatTemplate: await readFile(resolve(flags.chatTemplate), 'utf8') }
            : {}),
          ...draftVocab,
        };
        result = await abortOnSignal((signal) => convertCausalLM({ ...options, signal }), interrupted);
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const mb = (result.bytes / 1e6).toFixed(1);
      command.parent!.configureOutput().writeOut!(
        `${result.model.role} ${result.model.id}: ${result.model.file} (${mb} MB) in ${seconds} s; manifest ${result.manifestPath}\n`,
      );
      if (result.unusedTensors.length > 0) process.stderr.write(unusedTensorsWarning(result.unusedTensors));
    });
}

/** Checkpoint tensors shown by name in the warning about unused ones; the rest are counted. */
const UNUSED_NAMED = 8;

/** The warning that a conversion left checkpoint tensors out, naming the first few. */
export function unusedTensorsWarning(names: readonly string[]): string {
  const named = names.slice(0, UNUSED_NAMED).join(', ');
  const more = names.length > UNUSED_NAMED ? ` and ${names.length - UNUSED_NAMED} more` : '';
  return (
    `warning: the config does not use ${names.length} of the checkpoint's tensors, so the model leaves them out: ` +
    `${named}${more}. Check that the config's architecture is the checkpoint's.\n`
  );
}
