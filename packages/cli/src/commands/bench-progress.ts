import { SingleBar } from 'cli-progress';
import { startBar } from '../progress-bar.js';

/** The bench progress bar: one bar across every temperature, counting prompts within each. */
export interface BenchProgress {
  /** A prompt finished (plain and every drafter) at `temperature`. */
  promptDone(temperature: number, id: string): void;
  /** Stops the bar and restores the cursor; call it however the bench ends (once is enough). */
  stop(): void;
}

/**
 * A bar on `stream` for `prompts` prompts run at each of `temperatures`. The counter says which
 * prompt of the current temperature is done ("T=1 (2 of 2 temperatures): prompt 3/5"), so
 * `--limit 2` never reads as four prompts.
 */
export function createBenchProgress(
  stream: NodeJS.WritableStream,
  prompts: number,
  temperatures: readonly number[],
  options: { noTTYOutput?: boolean } = {},
): BenchProgress {
  const noun = prompts === 1 ? 'prompt' : 'prompts';
  const bar = new SingleBar({
    format:
      temperatures.length === 1
        ? `bench [{bar}] {done}/${prompts} ${noun} | T={temperature} | {id}`
        : `bench [{bar}] T={temperature} ({round} of ${temperatures.length} temperatures): {done}/${prompts} ${noun} | {id}`,
    stream,
    hideCursor: true,
    ...options,
  });
  let round = 1;
  let done = 0;
  let current = temperatures[0];
  const stop = startBar(bar, () =>
    bar.start(prompts * temperatures.length, 0, { temperature: current, round, done, id: '' }),
  );
  return {
    promptDone(temperature, id) {
      if (temperature !== current) {
        current = temperature;
        round += 1;
        done = 0;
      }
      done += 1;
      bar.increment(1, { temperature, round, done, id });
    },
    stop,
  };
}
