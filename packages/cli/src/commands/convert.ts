import { resolve } from 'node:path';
import { convertCausalLM, convertEagleHead, Fp32Weights } from '@treespec/convert';
import { OptionError } from '@treespec/core';
import { type Command, InvalidArgumentError, Option } from 'commander';

interface ConvertFlags {
  out: string;
  role: 'target' | 'draft' | 'eagle-head';
  target?: string;
  id?: string;
  maxContext?: number;
  linear: 'gemm' | 'matmul';
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer >= 1');
  return n;
}

/** `treespec convert <checkpoint> --out <dir> [--role …] [--target <dir>]`. */
export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a Hugging Face checkpoint (config.json + safetensors) into treespec ONNX models')
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
    .option('-t, --target <dir>', "the target's checkpoint directory (required for --role eagle-head)")
    .option('--id <id>', 'manifest id and file name of the model (default: the role)')
    .option(
      '--max-context <n>',
      'positions covered by the RoPE tables (default: max_position_embeddings)',
      positiveInt,
    )
    .addOption(
      new Option('--linear <op>', 'operator for linear layers').choices(['gemm', 'matmul']).default('gemm'),
    )
    .action(async (checkpoint: string, flags: ConvertFlags, command: Command) => {
      const started = performance.now();
      const common = {
        checkpoint: resolve(checkpoint),
        out: resolve(flags.out),
        id: flags.id,
        maxContext: flags.maxContext,
        weightFormat: new Fp32Weights(flags.linear),
      };
      let result: Awaited<ReturnType<typeof convertCausalLM>>;
      if (flags.role === 'eagle-head') {
        if (!flags.target)
          throw new OptionError(
            '--target',
            undefined,
            'the target checkpoint directory when --role is eagle-head',
          );
        result = await convertEagleHead({ ...common, target: resolve(flags.target) });
      } else {
        if (flags.target)
          throw new OptionError('--target', flags.target, 'given only with --role eagle-head');
        result = await convertCausalLM({ ...common, role: flags.role });
      }
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const mb = (result.bytes / 1e6).toFixed(1);
      command.parent!.configureOutput().writeOut!(
        `${result.model.role} ${result.model.id}: ${result.model.file} (${mb} MB) in ${seconds} s; manifest ${result.manifestPath}\n`,
      );
    });
}
