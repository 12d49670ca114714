/**
 * Aborted when the reader of stdout goes away (`treespec generate … | head`): a command whose
 * output is all it makes (`generate`) stops there; one that also writes files (`bench --json`,
 * `tune --save`) finishes them.
 */
export const stdoutClosed = new AbortController();

/**
 * Drops what is written to `stream` once its reader has gone away (EPIPE), instead of failing
 * with a stack trace: writing to a closed pipe is the reader's choice, not an error, and the
 * command's other work (files it writes) must not be lost to it. `onClosed` runs once, then.
 */
export function dropWritesOnClosedPipe(stream: NodeJS.WriteStream, onClosed: () => void = () => {}): void {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (closed) return;
    closed = true;
    stream.write = (() => true) as typeof stream.write;
    onClosed();
  });
}
