/**
 * Adaptive draft length against the fixed budget, on the toy model: tau (tokens per target call)
 * and draft calls per step for an EAGLE-2 tree (top-k 4, depth 6, 24 tokens) grown to full depth,
 * with EAGLE-2's dynamic depth (stop once the best frontier path is below 5 %), with AdaEDL's
 * entropy stop (λ 0.3, fixed and adapting) and with both. The drafter is the toy model mixed with
 * 30 % of another (a mediocre draft); sharper models mean a more confident draft. Output is
 * identical in every configuration (greedy); only the work changes.
 *
 *   pnpm -s --filter @treespec/drafters bench:length
 *
 * Prints one JSON report. The real-model comparison (time per token) belongs to `treespec bench`.
 */
import { DynamicTreeGrowth, SpeculativeDecoder, type TreeGrowth } from '@treespec/core';
import { ToyDrafter, ToyLanguageModel, ToyTarget } from '@treespec/core/testing';
import { GreedyVerifier } from '@treespec/sampling';
import { EntropyStopGrowth } from '../src/index.js';

const tree = { topK: 4, depth: 5, totalTokens: 25 };
const configurations: Record<string, () => TreeGrowth> = {
  fixed: () => new DynamicTreeGrowth(tree),
  'dynamic-depth': () => new DynamicTreeGrowth({ ...tree, minFrontierProbability: 0.05 }),
  adaedl: () => new EntropyStopGrowth(new DynamicTreeGrowth(tree), { threshold: 0.3 }),
  'adaedl+dynamic-depth': () =>
    new EntropyStopGrowth(new DynamicTreeGrowth({ ...tree, minFrontierProbability: 0.05 }), {
      threshold: 0.3,
    }),
};

/** Counts the growth's draft calls (frontier expansions). */
function counted(growth: TreeGrowth): { growth: TreeGrowth; calls: () => number } {
  let calls = 0;
  const nextFrontier = growth.nextFrontier.bind(growth);
  growth.nextFrontier = (out) => {
    const n = nextFrontier(out);
    if (n > 0) calls++;
    return n;
  };
  return { growth, calls: () => calls };
}

const results: Record<string, unknown>[] = [];
for (const sharpness of [1, 2, 4]) {
  for (const [name, make] of Object.entries(configurations)) {
    let steps = 0;
    let tokens = 0;
    let calls = 0;
    let nodes = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const model = new ToyLanguageModel({ vocabSize: 64, order: 2, seed, sharpness });
      const target = new ToyTarget(model);
      const { growth, calls: callCount } = counted(make());
      const drafter = new ToyDrafter({ target, growth, quality: { kind: 'mixed', noise: 0.3 } });
      const decoder = new SpeculativeDecoder({ target, drafter, verifier: new GreedyVerifier() });
      const { stats } = await decoder.generate([1, seed, 2 * seed], { maxTokens: 128 });
      steps += stats.steps;
      tokens += stats.generatedTokens;
      calls += callCount();
      nodes += stats.meanTreeSize * stats.steps;
    }
    results.push({
      sharpness,
      growth: name,
      tau: round(tokens / steps),
      draftCallsPerStep: round(calls / steps),
      tokensPerDraftCall: round(tokens / calls),
      meanTreeSize: round(nodes / steps),
    });
  }
}
console.log(JSON.stringify({ benchmark: 'adaptive draft length (toy model)', results }, null, 2));

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
