/**
 * Records, at every position of greedy generations, the whole draft tree the EAGLE-2 head grows
 * within the CPU's controlled capacity, and which of its nodes the target's greedy continuation
 * accepts: the input of `bench:replay-controller`, which replays a budget controller over it
 * without the machine's noise.
 *
 *   pnpm -s --filter @treespec/node bench:record-trees [--out trees.json --prompts 39 --max-tokens 128]
 *
 * Each step drafts the full capacity and is then verified as a plain step, so the next step
 * drafts from the next position and every position's tree is recorded. Under the capacity's
 * growth (one frontier node a depth) a capped tree is the capacity's tree cut to the cap's depth
 * and its best nodes, so every tree the controller can choose is a sub-tree of the recorded one.
 * A node is on the accepted path when it and all its ancestors match the greedy continuation.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { DraftContext, Drafter, DraftOutcome, DraftTree } from '@treespec/core';
import { CONTROLLED_CAPACITIES } from '@treespec/planner';
import { loadTreespec } from '../src/index.js';
import { devPrompts, TINY } from '../test/tiny.js';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    out: { type: 'string', default: 'trees.json' },
    prompts: { type: 'string', default: '39' },
    'max-tokens': { type: 'string', default: '128' },
  },
});
const maxTokens = Number(values['max-tokens']);
const prompts = devPrompts(Number(values.prompts)).map((p) => p.prompt);
const capacity = CONTROLLED_CAPACITIES.cpu?.tree;

/** One recorded tree: per node (root excluded) its depth, parent index, score and token. */
interface RecordedTree {
  length: number;
  depths: number[];
  parents: number[];
  scores: number[];
  tokens: number[];
}

const generator = await loadTreespec(TINY, {
  drafter: 'eagle2',
  drafters: ['none'],
  tuningCache: false,
  budget: 'fixed',
  ...(capacity ? { tree: capacity } : {}),
});
const drafters = generator.drafters as Record<string, Drafter>;
const full = drafters.eagle2 as Drafter;
let trees: RecordedTree[] = [];
/** Drafts the whole capacity, records it and hands the loop a plain step. */
const recorder: Drafter = {
  name: 'eagle2',
  needsFeatures: full.needsFeatures,
  maxTreeSize: full.maxTreeSize,
  reset: (seed, temperature) => full.reset(seed, temperature),
  async propose(context: DraftContext, tree: DraftTree) {
    await full.propose(context, tree);
    const n = tree.size;
    trees.push({
      length: context.length,
      depths: Array.from(tree.depths.subarray(1, n)),
      parents: Array.from(tree.parents.subarray(1, n)),
      scores: Array.from(tree.scores.subarray(1, n), (s) => Math.round(s * 1e6) / 1e6),
      tokens: Array.from(tree.tokens.subarray(1, n)),
    });
    tree.reset(tree.tokens[0] as number);
  },
  observe: (outcome: DraftOutcome) => full.observe?.(outcome),
  wantsStepFeatures: () => full.wantsStepFeatures?.() ?? true,
};
drafters.eagle2 = recorder;

const generations = [];
for (const prompt of prompts) {
  trees = [];
  const result = await generator.generate(prompt, { maxTokens, temperature: 0, drafter: 'eagle2' });
  const plain = await generator.generate(prompt, { maxTokens, temperature: 0, drafter: 'none' });
  if (plain.tokens.join() !== result.tokens.join())
    throw new Error('recorded output differs from plain decoding');
  const first = trees[0]?.length ?? 0;
  const steps = trees.map((t) => {
    // Node i (1-based in the tree) predicts the token at position length + depth - 1.
    const onPath = new Array<number>(t.depths.length + 1).fill(0);
    onPath[0] = 1;
    for (let i = 0; i < t.depths.length; i++) {
      const at = t.length - first + (t.depths[i] as number) - 1;
      const parent = t.parents[i] as number;
      onPath[i + 1] = onPath[parent] === 1 && result.tokens[at] === t.tokens[i] ? 1 : 0;
    }
    return {
      length: t.length,
      depths: t.depths,
      parents: t.parents,
      scores: t.scores,
      onPath: onPath.slice(1),
    };
  });
  generations.push({ promptLength: first, tokens: result.tokens.length, steps });
}
await generator.dispose();
await writeFile(values.out, JSON.stringify({ maxTokens, capacity, generations }));
const positions = generations.reduce((a, g) => a + g.steps.length, 0);
console.log(JSON.stringify({ out: values.out, generations: generations.length, positions }));
