import { TreespecError } from '@treespec/core';
import { Command, CommanderError } from 'commander';
import { registerBench } from './commands/bench.js';
import { registerConvert } from './commands/convert.js';
import { registerGenerate } from './commands/generate.js';
import { registerInspect } from './commands/inspect.js';
import { registerServe } from './commands/serve.js';
import { registerTune } from './commands/tune.js';
import { checkFlags } from './flag-checks.js';
import { messageInFlagTerms } from './flag-names.js';
import { cliVersion } from './version.js';

/** Adds one subcommand to the program. */
export type CommandRegistrar = (program: Command) => void;

/** The subcommands `treespec` has, in help order. */
export const COMMANDS: readonly CommandRegistrar[] = [
  registerGenerate,
  registerServe,
  registerBench,
  registerTune,
  registerConvert,
  registerInspect,
];

/** Where the program writes; tests capture it. */
export interface ProgramIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

const processIO: ProgramIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Builds the `treespec` program with every registered command. It throws instead of exiting. */
export function createProgram(
  io: ProgramIO = processIO,
  commands: readonly CommandRegistrar[] = COMMANDS,
): Command {
  const program = new Command('treespec')
    .description('Lossless speculative decoding with dynamic draft trees over ONNX Runtime')
    .version(cliVersion(), '-v, --version', 'print the version of treespec')
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program.hook('preAction', (_program, action) => checkFlags(action.opts(), io.err));
  for (const register of commands) register(program);
  for (const command of program.commands)
    command.exitOverride().configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      ...(command.options.some((option) => option.variadic) ? { outputError: withListHint } : {}),
    });
  return program;
}

/**
 * Writes a usage error of a command with list flags (`--stop`, `--models`, `--corpus`): a missing
 * argument gets a hint, since such a flag takes every word after it, the argument included.
 */
function withListHint(message: string, write: (text: string) => void): void {
  write(
    message.replace(
      /^(error: missing required argument '([^']+)')\n$/,
      '$1 (if you gave it after a list flag such as --stop, --models or --corpus, that flag took it: give the $2 first, or end the list with --)\n',
    ),
  );
}

/**
 * Runs the program on `argv` (as in `process.argv`) and returns the exit code: 0 on success,
 * 1 with a one-line `error: …` on stderr for a treespec error or a usage mistake.
 */
export async function runProgram(argv: readonly string[], io: ProgramIO = processIO): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ||
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version'
        ? 0
        : error.exitCode || 1;
    }
    if (error instanceof TreespecError) {
      io.err(`error: ${messageInFlagTerms(error)}\n`);
      return 1;
    }
    io.err(`error: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
