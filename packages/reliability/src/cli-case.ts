import { runProgram } from '@treespec/cli';

/** What one `treespec` run wrote and returned. */
export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Runs `treespec …args` in this process, capturing its output. */
export async function treespec(...args: string[]): Promise<CliRun> {
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

/** A CLI fault: the arguments (built per run, e.g. with temp paths) and what must come out. */
export interface CliCase {
  readonly id: string;
  readonly fault: string;
  /** Exit code and the stderr (and optionally stdout) it must show. */
  readonly expect: { readonly code: number; readonly err: RegExp; readonly out?: RegExp };
  args(paths: CliPaths): string[];
  /** Checks what the run left behind (files written or not). */
  after?(paths: CliPaths): void;
}

/** Temp paths the CLI cases may point at. */
export interface CliPaths {
  /** A fresh empty folder. */
  readonly dir: string;
}
