import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createBenchProgress } from './bench-progress.js';

/** Runs a bar on a captured non-TTY stream and returns every line it drew. */
function draw(prompts: string[], temperatures: number[]): string[] {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const bar = createBenchProgress(stream, prompts.length, temperatures, { noTTYOutput: true });
  for (const t of temperatures) for (const id of prompts) bar.promptDone(t, id);
  bar.stop();
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

describe('the bench progress bar', () => {
  it('counts the prompts of each temperature, not prompts times temperatures', () => {
    const lines = draw(['p1', 'p2'], [0, 1]);
    expect(lines.at(-1)).toMatch(/T=1 \(2 of 2 temperatures\): 2\/2 prompts \| p2$/);
    expect(lines.join('\n')).not.toMatch(/\/4/);
  });

  it('says "1 prompt" for one prompt at one temperature', () => {
    expect(draw(['only'], [0]).at(-1)).toMatch(/ 1\/1 prompt \| T=0 \| only$/);
  });
});
