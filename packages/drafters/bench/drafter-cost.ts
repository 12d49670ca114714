/**
 * Per-step cost of the model-free drafters at about 100 and 5000 tokens of context. Each sample
 * sets up a context of N ± 16 tokens (untimed: indexing all but the newest 3), then times the
 * `propose` that catches up with the 3 newest tokens and drafts — one decoding step that accepted
 * 2 tokens. Two kinds of text: "fresh" (random tokens, skewed towards small ids over a vocabulary
 * of 8192) and "repetitive" (about a quarter of the tokens copied in runs from a window behind, as
 * in code or a rewritten passage). `prefillUsPerToken` is the one-off cost of indexing a prompt
 * (reset included), per prompt token.
 *
 *   pnpm -s --filter @treespec/drafters bench:cost
 *
 * Prints one JSON report.
 */
import { type DraftContext, type Drafter, DraftTree } from '@treespec/core';
import { LookupDrafter, SuffixDrafter } from '../src/index.js';

const VOCAB = 8192;
const CONTEXTS = [100, 5000];
const STEP = 3;

function tokens(count: number, copyShare: number, seed: number): Int32Array {
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    if (i > 64 && random() < copyShare) {
      const from = i - 8 - Math.floor(random() * 56);
      const run = Math.min(count - i, 4 + Math.floor(random() * 12));
      for (let k = 0; k < run; k++) out[i + k] = out[from + k];
      i += run - 1;
    } else {
      out[i] = Math.floor(random() ** 3 * VOCAB);
    }
  }
  return out;
}

function context(text: Int32Array, length: number): DraftContext {
  return {
    tokens: text,
    length,
    promptLength: length,
    features: null,
    featureStart: 0,
    featureRows: 0,
    featureSize: 0,
    room: 1 << 30,
  };
}

function measure(makeDrafter: () => Drafter, text: Int32Array, around: number, samples: number) {
  const drafter = makeDrafter();
  const tree = new DraftTree(drafter.maxTreeSize);
  const times: number[] = [];
  let nodes = 0;
  for (let s = 0; s < samples; s++) {
    const length = around + (s % 32) - 16;
    drafter.reset();
    tree.reset(text[length - STEP - 1]);
    drafter.propose(context(text, length - STEP), tree);
    tree.reset(text[length - 1]);
    const t0 = performance.now();
    drafter.propose(context(text, length), tree);
    times.push((performance.now() - t0) * 1000);
    nodes += tree.size - 1;
  }
  times.sort((a, b) => a - b);
  const runs = 20;
  const t0 = performance.now();
  for (let r = 0; r < runs; r++) {
    drafter.reset();
    drafter.propose(context(text, around), tree);
  }
  const prefillUs = ((performance.now() - t0) * 1000) / runs;
  return {
    medianUs: round(times[times.length >> 1]),
    p90Us: round(times[Math.floor(times.length * 0.9)]),
    draftTokens: round(nodes / samples),
    prefillUsPerToken: round(prefillUs / around),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

const drafters: Record<string, () => Drafter> = {
  lookup: () => new LookupDrafter(),
  suffix: () => new SuffixDrafter(),
  'suffix+corpus': () => new SuffixDrafter({ corpus: [tokens(100_000, 0.25, 99)] }),
};

const report: Record<string, unknown>[] = [];
for (const [kind, share] of [
  ['fresh', 0],
  ['repetitive', 0.25],
] as const) {
  const text = tokens(Math.max(...CONTEXTS) + 32, share, 7);
  for (const [name, make] of Object.entries(drafters)) {
    for (const length of CONTEXTS) {
      measure(make, text, length, 200);
      report.push({ drafter: name, text: kind, context: length, ...measure(make, text, length, 2000) });
    }
  }
}
console.log(
  JSON.stringify(
    { benchmark: 'model-free drafter step cost', unit: 'microseconds', step: STEP, results: report },
    null,
    2,
  ),
);
