/**
 * Ends the process quietly when the reader of `stream` goes away (`treespec generate … | head`):
 * writing to a closed pipe is the reader's choice, not an error to print a stack trace for.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream, exit: (code: number) => void): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') exit(0);
    else throw error;
  });
}
