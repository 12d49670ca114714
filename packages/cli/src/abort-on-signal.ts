const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof EXIT_CODES;

/**
 * Runs `task` with a signal that the first SIGINT or SIGTERM aborts, so that it stops at its next
 * safe point and undoes what it began (a conversion: its temporary files, a folder it made); when
 * it has, the process ends as the signal would have ended it (exit code 128 + the signal's
 * number), after `interrupted` says so. A second signal ends the process at once.
 */
export async function abortOnSignal<T>(
  task: (signal: AbortSignal) => Promise<T>,
  interrupted: (signal: StopSignal) => void,
): Promise<T> {
  const controller = new AbortController();
  let received: StopSignal | null = null;
  const stop = (signal: StopSignal) => {
    if (received) process.exit(EXIT_CODES[signal]);
    received = signal;
    controller.abort();
  };
  const signals = Object.keys(EXIT_CODES) as StopSignal[];
  for (const signal of signals) process.on(signal, stop);
  try {
    return await task(controller.signal);
  } catch (error) {
    if (received === null) throw error;
    interrupted(received);
    return process.exit(EXIT_CODES[received]);
  } finally {
    for (const signal of signals) process.off(signal, stop);
  }
}
