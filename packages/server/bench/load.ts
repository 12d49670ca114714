import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LOAD_PROMPTS, type LoadPlan, runLoad, serialAnswers } from './load-run.js';

/**
 * The load test: a server process on loopback with the tiny bundle, 32 concurrent streaming clients
 * × 3 greedy requests of 64 tokens, a third of the clients dropping one request mid-stream.
 * Prints (and with `--out file` writes) a JSON report: every request answered, each answer equal to
 * its serial answer, latency percentiles, aggregate tokens/s and the server's RSS before and after.
 *
 *   pnpm -s --filter @treespec/server bench:load -- --out load.json
 */
const plan: LoadPlan = {
  clients: 32,
  requestsPerClient: 3,
  maxTokens: 64,
  prompts: LOAD_PROMPTS,
  disconnectEvery: 3,
};
const outAt = process.argv.indexOf('--out');
const out = outAt >= 0 ? process.argv[outAt + 1] : undefined;

const child = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(new URL('serve-tiny.ts', import.meta.url))],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const [line] = (await once(child.stdout!, 'data')) as [Buffer];
const base = /listening (\S+)/.exec(line.toString())![1]!;
try {
  const serialStarted = performance.now();
  const answers = await serialAnswers(base, 'tiny', plan);
  const serialSeconds = (performance.now() - serialStarted) / 1000;
  const report = await runLoad(base, 'tiny', plan, answers);
  const ok =
    report.failed === 0 &&
    report.mismatched === 0 &&
    report.completed + report.disconnected === report.requests &&
    report.slotAfter.running === 0 &&
    report.slotAfter.waiting === 0;
  // One request at a time at full speed: the load run's tokens/s relative to it shows the queue's cost.
  const serialTokensPerSecond = (plan.prompts.length * plan.maxTokens) / serialSeconds;
  const json = JSON.stringify({ ...report, serialTokensPerSecond, ok }, null, 2);
  process.stdout.write(`${json}\n`);
  if (out) writeFileSync(out, `${json}\n`);
} finally {
  child.kill('SIGTERM');
  await once(child, 'exit');
}
