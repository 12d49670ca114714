import type { SingleBar } from 'cli-progress';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Starts a progress bar (`start`, which draws it and hides the cursor) and returns the function
 * that stops it, once, restoring the cursor and line wrap. Call it in a `finally`: a bar left
 * running keeps the process alive after an error. A SIGINT or SIGTERM meanwhile stops the bar
 * first, then ends the process as the signal does (unless another handler holds the signal).
 */
export function startBar(bar: SingleBar, start: () => void): () => void {
  let stopped = false;
  const onSignal = (signal: NodeJS.Signals) => {
    stop();
    // Where another handler holds the signal it decides; alone, the signal ends the process.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    for (const signal of SIGNALS) process.off(signal, onSignal);
    bar.stop();
  };
  for (const signal of SIGNALS) process.once(signal, onSignal);
  start();
  return stop;
}
