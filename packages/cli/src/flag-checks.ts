import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { OptionError } from '@treespec/core';

/** Flags naming files the command reads. */
const INPUT_FLAGS = [
  ['prompts', '--prompts'],
  ['corpus', '--corpus'],
  ['chatTemplate', '--chat-template'],
] as const;

/** Flags naming files the command writes (when given a path rather than a switch). */
const OUTPUT_FLAGS = [['json', '--json']] as const;

/**
 * Checks a command's file flags before it runs: every input file can be read, and every output
 * file can be written (an existing one, or a new one in an existing, writable folder), so that a
 * long bench never runs only to lose its report. Warns (through
 * `warn`) about `--threads` above the machine's CPUs.
 * @throws OptionError naming the flag, the path and what is wrong with it.
 */
export async function checkFlags(
  flags: Record<string, unknown>,
  warn: (text: string) => void,
): Promise<void> {
  for (const [key, flag] of INPUT_FLAGS) {
    const value = flags[key];
    const paths = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as string[]) : [];
    for (const path of paths) await checkReadable(flag, path);
  }
  for (const [key, flag] of OUTPUT_FLAGS) {
    const value = flags[key];
    if (typeof value === 'string') await checkWritable(flag, value);
  }
  const threads = flags['threads'];
  const cpus = availableParallelism();
  if (typeof threads === 'number' && threads > cpus) {
    warn(
      `warning: --threads ${threads} is more than the ${cpus} CPUs here; ONNX Runtime's threads will ` +
        `take turns and run slower than with --threads ${cpus}\n`,
    );
  }
}

async function checkReadable(flag: string, path: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new OptionError(flag, path, 'an existing file; there is no file at that path');
  if (!info.isFile()) throw new OptionError(flag, path, 'a file; that path is a directory or a device');
  await access(path, constants.R_OK).catch(() => {
    throw new OptionError(flag, path, 'a file this user can read; its permissions forbid it');
  });
}

/**
 * Checks that the file `path` (given by `flag`) can be written whole: a file, or none yet, whose
 * folder exists and takes new files (files are replaced through a temporary file beside them,
 * `replaceFile`), and which itself, where it exists, this user may write.
 * @throws OptionError naming the flag, the path and what is wrong with it.
 */
export async function checkWritable(flag: string, path: string): Promise<void> {
  const folder = dirname(resolve(path));
  const info = await stat(folder).catch(() => null);
  if (!info?.isDirectory())
    throw new OptionError(flag, path, `a file in an existing folder; ${folder} does not exist`);
  const target = await stat(path).catch(() => null);
  if (target?.isDirectory()) throw new OptionError(flag, path, 'a file path; that path is a directory');
  if (target) {
    await access(path, constants.W_OK).catch(() => {
      throw new OptionError(flag, path, 'a file this user can write; its permissions forbid it');
    });
    // A device or a pipe (`/dev/stdout`) is written to in place: its folder need not take files.
    if (!target.isFile()) return;
  }
  await access(folder, constants.W_OK).catch(() => {
    throw new OptionError(flag, path, `a file in a folder this user can write; ${folder} is not writable`);
  });
}
