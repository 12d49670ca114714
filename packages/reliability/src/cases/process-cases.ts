import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `treespec` command. */
export const BIN = fileURLToPath(new URL('../../../cli/dist/bin.js', import.meta.url));

/** What a `treespec` process did. */
export interface ProcessRun {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** A fault only a real process shows: its reader going away, native logging. */
export interface ProcessCase {
  readonly id: string;
  readonly fault: string;
  readonly expect: { readonly code: number; readonly err: RegExp; readonly out?: RegExp };
  run(): Promise<ProcessRun>;
}

/** Runs `treespec …args`; with `closeAfter`, closes its stdout after that many bytes, as `| head -c` does. */
export function runTreespec(args: readonly string[], closeAfter?: number): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (closeAfter !== undefined && out.length >= closeAfter) child.stdout.destroy();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** Faults of the process around the library: closed pipes and provider failures. */
export const PROCESS_CASES: readonly ProcessCase[] = [
  {
    id: 'process-stdout-closed',
    fault: '`treespec generate … | head -c 20`: stdout closes mid-stream',
    expect: { code: 0, err: /^$/ },
    run: () => runTreespec(['generate', 'The history of the city begins in', '-n', '400', '-d', 'none'], 20),
  },
  {
    id: 'process-provider-missing',
    fault: '`--provider cuda` where its binaries are not installed',
    expect: { code: 1, err: /^error: execution provider "cuda" is unavailable: [^\n]*\n$/ },
    run: () => runTreespec(['generate', 'Hi', '-n', '1', '--provider', 'cuda']),
  },
  {
    id: 'process-json-context-end',
    fault: '`--json` generation that reaches the end of a 48-token context',
    expect: { code: 0, err: /^$/, out: /^\{"text":.*"finishReason":"context"/ },
    run: () =>
      runTreespec([
        'generate',
        'The history of the city begins in',
        '-n',
        '1000',
        '--max-context',
        '48',
        '--json',
      ]),
  },
];
