// Measures the example page in headless Chromium: model load time with an empty and a warm
// Cache Storage, and tau, tokens/s and speed-up over plain decoding on the development prompts.
// Prints a JSON report (and writes it to --out). Run it on a quiet machine; it reports the load
// average it saw.
//
//   pnpm -s --filter @treespec-examples/browser build
//   pnpm -s --filter @treespec-examples/browser measure -- --prompts 10 --max-tokens 64 --repeats 3
//
// Options: --ep wasm|webgpu|auto (default wasm), --tree topK,depth,totalTokens, --budget auto|fixed,
// --drafter NAME,
// --threads N, --prompts N, --max-tokens N, --repeats N, --out FILE, --no-node (skip the same
// prompts on @treespec/node's CPU provider, run after the browser for the cost comparison),
// --dist DIR (the built page to measure, default ../dist: another checkout's, to compare builds),
// --calls (log every model call in the worker and report them by kind under `calls`),
// --no-render (the speculative run neither streams its text into the page nor draws trees, as
// the plain run does not: tells the page's rendering apart from decoding).
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { tinyDevPromptsPath, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { stepCosts } from '@treespec/web';
import { hasChromium, launchChromium } from './chromium.mjs';
import { serve } from './serve.mjs';

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    ep: { type: 'string', default: 'wasm' },
    tree: { type: 'string' },
    budget: { type: 'string' },
    drafter: { type: 'string' },
    threads: { type: 'string' },
    prompts: { type: 'string', default: '10' },
    'max-tokens': { type: 'string', default: '64' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string' },
    'no-node': { type: 'boolean', default: false },
    dist: { type: 'string' },
    calls: { type: 'boolean', default: false },
    'no-render': { type: 'boolean', default: false },
  },
});
const maxTokens = Number(args['max-tokens']);
const repeats = Number(args.repeats);
const dist = args.dist ? `${args.dist.replace(/\/$/, '')}/` : new URL('../dist/', import.meta.url).pathname;
if (!hasChromium()) throw new Error('needs /usr/bin/chromium (apt-get install chromium)');
if (!existsSync(`${dist}index.html`))
  throw new Error('build the page first: pnpm --filter @treespec-examples/browser build');

const prompts = (await readFile(tinyDevPromptsPath(), 'utf8'))
  .split('\n')
  .filter((l) => l.trim())
  .slice(0, Number(args.prompts))
  .map((l) => JSON.parse(l));
const query = new URLSearchParams({ ep: args.ep });
if (args.tree) query.set('tree', args.tree);
if (args.drafter) query.set('drafter', args.drafter);
if (args.budget) query.set('budget', args.budget);
if (args.threads) query.set('threads', args.threads);
if (args.calls) query.set('calls', '1');
if (args['no-render']) query.set('render', '0');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function ready(page) {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state), null, {
    timeout: 180_000,
  });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== 'ready') throw new Error(`the page did not load: ${await page.textContent('#error')}`);
  return page.evaluate(() => window.treespecDemo.lastLoad);
}

const server = await serve(dist);
const loadBefore = loadavg();
const loads = [];
const runs = prompts.map(() => []);
let environment = null;
try {
  for (let r = 0; r < repeats; r++) {
    const browser = await launchChromium({ webgpu: args.ep !== 'wasm' });
    try {
      const { page } = browser;
      await page.goto(`${server.url}?${query}`);
      const cold = await ready(page);
      await page.reload();
      const warm = await ready(page);
      loads.push({ coldMs: cold.pageMs, warmMs: warm.pageMs, cold: cold.info, warm: warm.info });
      environment = {
        provider: warm.info.provider,
        threads: warm.info.threads,
        crossOriginIsolated: warm.info.crossOriginIsolated,
        models: Object.keys(warm.info.providers),
        userAgent: await page.evaluate(() => navigator.userAgent),
      };
      await page.evaluate(
        (p) => window.treespecDemo.run(p, { maxTokens: 8, compare: true }),
        prompts[0].prompt,
      );
      for (const [i, p] of prompts.entries()) {
        const o = await page.evaluate(
          ({ prompt, maxTokens }) => window.treespecDemo.run(prompt, { maxTokens, compare: true }),
          { prompt: p.prompt, maxTokens },
        );
        runs[i].push({
          tau: o.spec.stats.tau,
          tokens: o.spec.stats.generatedTokens,
          specTps: o.spec.stats.tokensPerSecond,
          plainTps: o.plain.stats.tokensPerSecond,
          speedup: o.speedup,
          identical: o.identical,
          costs: o.costs,
          controller: o.spec.stats.controller ?? null,
          calls: args.calls ? { spec: o.spec.calls, plain: o.plain.calls } : null,
        });
        process.stderr.write(
          `repeat ${r + 1} ${p.id}: tau ${o.spec.stats.tau.toFixed(2)} ` +
            `${o.spec.stats.tokensPerSecond.toFixed(1)} vs ${o.plain.stats.tokensPerSecond.toFixed(1)} tok/s ` +
            `(${o.speedup.toFixed(2)}x)\n`,
        );
      }
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}

const perPrompt = prompts.map((p, i) => ({
  id: p.id,
  tau: round(median(runs[i].map((x) => x.tau))),
  specTokensPerSecond: round(median(runs[i].map((x) => x.specTps)), 1),
  plainTokensPerSecond: round(median(runs[i].map((x) => x.plainTps)), 1),
  speedup: round(median(runs[i].map((x) => x.speedup))),
  identical: runs[i].every((x) => x.identical),
}));
// Overall, per repeat: all tokens over all decoding time (or over all steps, for tau), then the
// median over repeats.
const overallOf = (pick) =>
  Array.from({ length: repeats }, (_, r) => {
    const tokens = runs.reduce((a, xs) => a + xs[r].tokens, 0);
    const seconds = runs.reduce((a, xs) => a + xs[r].tokens / pick(xs[r]), 0);
    return tokens / seconds;
  });
const spec = overallOf((x) => x.specTps);
const plain = overallOf((x) => x.plainTps);
const report = {
  page: `?${query}`,
  prompts: prompts.length,
  maxTokens,
  repeats,
  environment,
  loadAverage: { before: loadBefore.map((x) => round(x)), after: loadavg().map((x) => round(x)) },
  load: {
    coldMs: round(median(loads.map((l) => l.coldMs)), 0),
    warmMs: round(median(loads.map((l) => l.warmMs)), 0),
    coldFilesMs: round(median(loads.map((l) => l.cold.timings.filesMs)), 0),
    warmFilesMs: round(median(loads.map((l) => l.warm.timings.filesMs)), 0),
    sessionsMs: round(median(loads.map((l) => l.warm.timings.sessionsMs)), 0),
    bytes: loads[0]?.cold.bytes.total,
    warmDownloadedBytes: Math.max(...loads.map((l) => l.warm.bytes.downloaded)),
  },
  overall: {
    tau: round(median(overallOf((x) => x.tau))),
    specTokensPerSecond: round(median(spec), 1),
    plainTokensPerSecond: round(median(plain), 1),
    speedup: round(median(spec.map((s, r) => s / plain[r]))),
    identical: perPrompt.every((p) => p.identical),
  },
  costs: summariseCosts(runs.flat().map((x) => x.costs)),
  controller: summariseController(runs.flat()),
  calls: args.calls ? summariseCalls(runs.flat().map((x) => x.calls)) : null,
  node: args['no-node'] ? null : await measureNode(),
  perPrompt,
};
/**
 * The budget controller's account over all runs: the share of plain steps (and of probes), its
 * predicted against measured ms per step, and its price of a plain step beside the plain run's
 * call (medians over runs); null without a controller.
 */
function summariseController(all) {
  const runs = all.filter((x) => x.controller);
  if (runs.length === 0) return null;
  const sum = (pick) => runs.reduce((a, x) => a + pick(x.controller), 0);
  const steps = sum((c) => c.steps);
  const timed = runs.filter((x) => x.controller.actualMsPerStep > 0);
  return {
    plainShare: round(sum((c) => c.plainSteps) / steps, 3),
    probeShare: round(sum((c) => c.probeSteps) / steps, 3),
    predictedMsPerStep: round(median(timed.map((x) => x.controller.predictedMsPerStep)), 3),
    actualMsPerStep: round(median(timed.map((x) => x.controller.actualMsPerStep)), 3),
    plainStepMs: round(median(runs.map((x) => x.controller.costs.plainStep)), 3),
    plainCallMs: round(median(runs.map((x) => x.costs.plainCallMs).filter((x) => x !== null)), 3),
  };
}

/**
 * Medians over runs of where a step's time went (see `stepCosts` in @treespec/web), with the
 * controller's verification cost by tree size and draft cost by depth merged over runs.
 */
function summariseCosts(costs) {
  const scalar = (key, digits = 3) => {
    const xs = costs.map((c) => c[key]).filter((x) => x !== null);
    return xs.length > 0 ? round(median(xs), digits) : null;
  };
  const bySize = (key) => {
    const sizes = new Map();
    for (const c of costs)
      for (const [size, ms, ratio] of c[key]) {
        if (!sizes.has(size)) sizes.set(size, []);
        sizes.get(size).push([ms, ratio ?? null]);
      }
    return [...sizes.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([size, xs]) => {
        const ratios = xs.map((x) => x[1]).filter((r) => r !== null);
        return {
          size,
          runs: xs.length,
          ms: round(median(xs.map((x) => x[0])), 3),
          ...(key === 'verifyByNodes' && ratios.length > 0 ? { perPlainCall: round(median(ratios), 2) } : {}),
        };
      });
  };
  return {
    stepMs: scalar('stepMs'),
    draftMs: scalar('draftMs'),
    verifyMs: scalar('verifyMs'),
    otherMs: scalar('otherMs'),
    postMs: scalar('postMs'),
    treeNodes: scalar('treeNodes', 2),
    plainTokenMs: scalar('plainTokenMs'),
    plainCallMs: scalar('plainCallMs'),
    verifyByNodes: bySize('verifyByNodes'),
    draftByDepth: bySize('draftByDepth'),
  };
}

/**
 * The model calls of every run (`--calls`) by kind, pooled over runs: the plain run's target
 * calls (the first after the prefill apart, in both runs); the speculative run's single-row target calls after a single-row step (a plain step
 * after a plain step), right after a drafted step's verification, and right after the drafter's
 * calls (by rows: a drafted tree's verification); the drafter's first call of a step by its rows
 * (after plain steps the EAGLE head first catches up on their rows), apart from the
 * generation's first (the prompt's rows), and its later calls. Each kind: calls, min, p25 and median ms, and per run the
 * total ms. The prefill's calls are left out.
 */
function summariseCalls(all) {
  const kinds = new Map();
  const add = (kind, ms, rows) => {
    if (!kinds.has(kind)) kinds.set(kind, { ms: [], rows: 0 });
    const k = kinds.get(kind);
    k.ms.push(ms);
    k.rows += rows;
  };
  for (const { spec, plain } of all) {
    add('plain run: target, first step after the prefill', plain.ms[1], 1);
    for (let i = 2; i < plain.ms.length; i++) add('plain run: target, 1 row', plain.ms[i], 1);
    let previousRows = 0;
    let first = true;
    let headStarted = false;
    let drafterCalls = 0;
    for (let i = 1; i < spec.ms.length; i++) {
      const rows = spec.rows[i];
      if (spec.model[i] === 'drafter') {
        const size = rows === 1 ? '1 row' : rows <= 8 ? '2-8 rows' : rows <= 32 ? '9-32 rows' : '33+ rows';
        add(
          !headStarted
            ? "drafter: the generation's first call (the prompt's rows)"
            : drafterCalls === 0
              ? `drafter: first call of a step, ${size}`
              : 'drafter: later calls',
          spec.ms[i],
          rows,
        );
        headStarted = true;
        drafterCalls++;
        continue;
      }
      const kind =
        drafterCalls > 0
          ? `target after the drafter, ${Math.min(rows, 4)}${rows >= 4 ? '+' : ''} rows`
          : first
            ? 'target, first step after the prefill'
            : rows > 1
              ? 'target without drafting, 2+ rows'
              : previousRows === 1
                ? 'target, 1 row after a 1-row step'
                : 'target, 1 row after a drafted step';
      add(kind, spec.ms[i], rows);
      previousRows = rows;
      first = false;
      drafterCalls = 0;
    }
  }
  const at = (xs, q) => xs[Math.floor(q * (xs.length - 1))];
  return Object.fromEntries(
    [...kinds.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([kind, { ms, rows }]) => {
        const sorted = [...ms].sort((a, b) => a - b);
        const total = ms.reduce((a, b) => a + b, 0);
        return [
          kind,
          {
            calls: ms.length,
            meanRows: round(rows / ms.length, 1),
            minMs: round(sorted[0], 3),
            p25Ms: round(at(sorted, 0.25), 3),
            medianMs: round(median(sorted), 3),
            msPerRun: round(total / all.length, 1),
          },
        ];
      }),
  );
}

/** The same prompts, speculative then plain, on @treespec/node's CPU provider in this process. */
async function measureNode() {
  const tree = args.tree ? args.tree.split(',').map(Number) : null;
  const generator = await loadTreespec(tinyModelDirectory(), {
    ...(args.drafter ? { drafter: args.drafter } : {}),
    ...(args.budget ? { budget: args.budget } : {}),
    ...(tree ? { tree: { topK: tree[0], depth: tree[1], totalTokens: tree[2] } } : {}),
    // As in the page: as many threads as its WASM pool, the controller unseeded.
    intraOpNumThreads: environment?.threads ?? 2,
    tuningCache: false,
  });
  try {
    await generator.generate(prompts[0].prompt, { maxTokens: 8 });
    const costs = [];
    let specTokens = 0;
    let specMs = 0;
    let plainMs = 0;
    let steps = 0;
    for (const p of prompts) {
      const spec = await generator.generate(p.prompt, { maxTokens });
      const plain = await generator.generate(p.prompt, { maxTokens, plain: true });
      if (spec.text !== plain.text) throw new Error(`${p.id}: Node's speculative text differs from plain`);
      costs.push(stepCosts(spec, plain));
      specTokens += spec.stats.generatedTokens;
      steps += spec.stats.steps;
      specMs += spec.stats.totalMs - spec.stats.prefillMs;
      plainMs += plain.stats.totalMs - plain.stats.prefillMs;
    }
    return {
      provider: 'cpu',
      threads: environment?.threads ?? 2,
      tau: round(specTokens / steps),
      speedup: round(plainMs / specMs),
      costs: summariseCosts(costs),
    };
  } finally {
    await generator.dispose();
  }
}

const json = JSON.stringify(report, null, 2);
console.log(json);
if (args.out) await writeFile(args.out, `${json}\n`);
