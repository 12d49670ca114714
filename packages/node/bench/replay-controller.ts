/**
 * Replays the EAGLE-2 budget controller over recorded draft trees (`bench:record-trees`) on a
 * simulated clock: each step's tree is grown by the drafter's real growth (its caps, and its prices
 * when the controller sizes trees by value) from the recorded one at that position, the accepted
 * path is the recorded one within it, and the clock advances by a cost table
 * (plain step, verification by rows, drafting by depth, a catch-up after plain steps, the first
 * plain step after a tree) with seeded noise. Plain decoding is replayed on the same clock, so
 * the speed-up carries no machine noise, and controller policies can be compared step for step.
 * Beside it, `bound` is the speed-up of a schedule that knows every position's accepted path in
 * advance (each step plain, or a chain of exactly the tokens the target will accept, whichever
 * finishes the generation sooner), on the same table without noise and without switching costs:
 * what no policy drafting with the same head can beat on this machine.
 *
 *   pnpm -s --filter @treespec/node bench:replay-controller --trees trees.json
 *     [--budget auto|fixed] [--value-trees false] [--tree '{"depth":2,"nodes":2}'] [--rounds 2] [--seed 1]
 *     [--noise 0.15] [--costs costs.json]
 *
 * `--costs` overrides the default table (medians of one `bench:steps` run on the Zen 5 reference
 * machine, see docs/benchmarks.md): `{ "verify": [[rows, ms], ...], "draftFirst": ms,
 * "draftDepth": ms, "catchUpRow": ms, "entering": ms, "leaving": ms, "promptRead": ms,
 * "overhead": ms, "spikeChance": p, "spike": factor, "hours": [factor, ...] }`. `hours` scales
 * the whole table by generation (one factor each, cycling), as the machine's load moves.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  DraftTree,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
} from '@treespec/core';
import { BudgetController } from '@treespec/drafters';
import { DEVICE_PRESETS } from '@treespec/planner';
import { scriptArgs } from './script-args.js';

const { values } = parseArgs({
  args: scriptArgs(),
  options: {
    trees: { type: 'string', default: 'trees.json' },
    // auto | fixed
    budget: { type: 'string', default: 'auto' },
    // Under auto: false chooses greedy trees among capped candidates (`valueTrees: false`).
    'value-trees': { type: 'string', default: 'true' },
    tree: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    noise: { type: 'string', default: '0.15' },
    costs: { type: 'string' },
  },
});

interface RecordedStep {
  length: number;
  depths: number[];
  parents: number[];
  scores: number[];
  onPath: number[];
}
interface Recording {
  maxTokens: number;
  capacity: DynamicTreeOptions;
  generations: { promptLength: number; tokens: number; steps: RecordedStep[] }[];
}
interface Costs {
  verify: [number, number][];
  draftFirst: number;
  draftDepth: number;
  catchUpRow: number;
  entering: number;
  leaving: number;
  promptRead: number;
  overhead: number;
  spikeChance: number;
  spike: number;
  hours: number[];
}

/** Medians of `bench:steps --drafter eagle2 --temperature 0` on the Zen 5 machine (session 36). */
const DEFAULT_COSTS: Costs = {
  verify: [
    [1, 1.32],
    [2, 1.75],
    [3, 1.93],
    [4, 1.98],
    [5, 2.11],
    [7, 2.53],
    [9, 2.78],
    [11, 3.34],
    [16, 4.0],
    [25, 4.8],
  ],
  draftFirst: 0.3,
  draftDepth: 0.19,
  catchUpRow: 0.01,
  entering: 0.25,
  leaving: 0.3,
  promptRead: 0.6,
  overhead: 0.03,
  spikeChance: 0.02,
  spike: 3,
  hours: [1],
};

const recording = JSON.parse(await readFile(values.trees, 'utf8')) as Recording;
const costs: Costs = {
  ...DEFAULT_COSTS,
  ...(values.costs ? JSON.parse(await readFile(values.costs, 'utf8')) : {}),
};
const noise = Number(values.noise);
const rounds = Number(values.rounds);

/** A seeded generator (mulberry32) and a normal draw from it. */
let state = Number(values.seed) >>> 0;
function uniform(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

let hour = 1;
/** A cost as the machine pays it now: the hour's factor, lognormal noise, now and then a spike. */
function paid(ms: number): number {
  const spike = uniform() < costs.spikeChance ? costs.spike : 1;
  return ms * hour * Math.exp(noise * normal() - (noise * noise) / 2) * spike;
}

/** Verification of `rows` rows, linear between the table's sizes and past its last two. */
function verifyMs(rows: number): number {
  const table = costs.verify;
  let i = 1;
  while (i < table.length - 1 && (table[i] as [number, number])[0] < rows) i++;
  const [x0, y0] = table[i - 1] as [number, number];
  const [x1, y1] = table[i] as [number, number];
  return y0 + ((rows - x0) * (y1 - y0)) / (x1 - x0);
}

const clock = { now: 0 };

/**
 * Grows the recorded tree at the context's position with the drafter's real growth, and pays for
 * it on the clock: the head's first call and one more a depth, the catch-up rows, and the first
 * tree of a generation or after plain steps dearer.
 */
class ReplayDrafter implements Drafter {
  readonly name = 'eagle2';
  readonly needsFeatures = true;
  readonly maxTreeSize: number;
  steps = new Map<number, RecordedStep>();
  private bound = 0;
  private started = false;
  /** The context length at the last tree, and the length its verification reached. */
  private length = 0;
  private draftedThrough = -1;
  private readonly frontier: Int32Array;

  constructor(readonly growth: DynamicTreeGrowth) {
    this.maxTreeSize = growth.maxTreeSize;
    this.frontier = new Int32Array(growth.maxFrontier);
  }
  reset(): void {
    this.started = false;
    this.bound = 0;
  }
  catchUpWithin(rows: number): void {
    this.bound = rows;
  }
  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    this.length = context.length;
    const depth = this.grow(this.steps.get(context.length) as RecordedStep, context.maxDepth);
    const rows = this.bound > 0 ? Math.min(this.bound, context.featureRows) : context.featureRows;
    this.bound = 0;
    let ms = costs.draftFirst + costs.draftDepth * (depth - 1);
    if (!this.started) ms += costs.promptRead;
    else if (context.length !== this.draftedThrough) ms += costs.entering;
    ms += costs.catchUpRow * rows;
    this.started = true;
    clock.now += paid(ms);
    this.growth.finish(tree);
  }

  /**
   * Grows the step's tree (within the controller's caps, and by its prices when it sizes trees by
   * value), each expanded node getting its recorded children; returns the depths grown. The
   * recorded tree expanded the best-scored node of each depth, as the growth does, so the children
   * it asks for were recorded. A node's token is its recorded index plus one (the root's 0).
   */
  private grow(step: RecordedStep, maxDepth: number): number {
    const { growth, frontier } = this;
    growth.begin(0);
    for (let n = growth.nextFrontier(frontier); n > 0; n = growth.nextFrontier(frontier)) {
      for (let j = 0; j < n; j++) {
        const node = frontier[j] as number;
        if (growth.depthOf(node) >= maxDepth) continue;
        const recorded = growth.tokenOf(node);
        const parentScore = recorded === 0 ? 0 : (step.scores[recorded - 1] as number);
        for (let i = 0; i < step.depths.length; i++) {
          if (step.parents[i] === recorded)
            growth.addChild(node, i + 1, (step.scores[i] as number) - parentScore);
        }
      }
    }
    return growth.grownDepth;
  }

  observe(outcome: DraftOutcome): void {
    this.draftedThrough = this.length + outcome.pathLength;
  }
}

/**
 * The accepted path of the cut tree, its nodes on the recorded path (parents come before their
 * children), into `path` from the root; returns its length.
 */
function acceptedPath(step: RecordedStep, tree: DraftTree, path: Int32Array): number {
  let length = 1;
  path[0] = 0;
  for (let n = 1; n < tree.size; n++)
    if (step.onPath[(tree.tokens[n] as number) - 1] === 1) path[length++] = n;
  return length;
}

const growth = new DynamicTreeGrowth(recording.capacity);
const drafter = new ReplayDrafter(growth);
const fixedTree = values.tree ? (JSON.parse(values.tree) as { depth: number; nodes: number }) : null;
const controller = new BudgetController(
  { drafter, growth },
  {
    clock: () => clock.now,
    // As the planner's start tree: the CPU's fixed budget in the controller's terms.
    start: {
      depth: 1 + (DEVICE_PRESETS.cpu.tree?.depth ?? 4),
      nodes: (DEVICE_PRESETS.cpu.tree?.totalTokens ?? 11) - 1,
    },
    fixed: values.budget === 'fixed',
    valueTrees: values['value-trees'] !== 'false',
  },
);
if (fixedTree) {
  const capNext = growth.capNext.bind(growth);
  growth.capNext = () => capNext(fixedTree.depth, fixedTree.nodes);
}

/**
 * Deepest accepted node of every recorded position's tree: the draft tokens a step there commits
 * when it drafts the accepted path (within the drafter's capacity).
 */
function acceptedDepths(steps: Map<number, RecordedStep>): Map<number, number> {
  const depths = new Map<number, number>();
  for (const [length, step] of steps) {
    let deepest = 0;
    for (let i = 0; i < step.depths.length; i++)
      if (step.onPath[i] === 1) deepest = Math.max(deepest, step.depths[i] as number);
    depths.set(length, deepest);
  }
  return depths;
}

/**
 * The least time to generate a recording's `tokens` knowing each position's accepted depth: by
 * dynamic programming from the end, each position either decodes plainly or drafts a chain of
 * `l` ≤ accepted depth tokens and commits `l + 1` (the table's expected costs, no switching).
 */
function perfectKnowledgeMs(promptLength: number, tokens: number, accepted: Map<number, number>): number {
  const fastest = new Float64Array(tokens + 1);
  for (let k = tokens - 1; k >= 0; k--) {
    let best = (fastest[k + 1] as number) + verifyMs(1) + costs.overhead;
    const deepest = Math.min(accepted.get(promptLength + k) ?? 0, tokens - k - 1);
    for (let l = 1; l <= deepest; l++) {
      const step = costs.draftFirst + costs.draftDepth * (l - 1) + verifyMs(l + 1) + costs.overhead;
      best = Math.min(best, (fastest[k + l + 1] as number) + step);
    }
    fastest[k] = best;
  }
  return fastest[0] as number;
}

const tree = new DraftTree(growth.maxTreeSize);
const path = new Int32Array(growth.maxTreeSize);
const totals = {
  predicted: 0,
  actual: 0,
  predictedMs: 0,
  actualMs: 0,
  plainMs: 0,
  speculativeMs: 0,
  tokens: 0,
  /** Noise-free plain decoding and the perfect-knowledge schedule, for `bound`. */
  boundPlainMs: 0,
  boundMs: 0,
  steps: 0,
  plainSteps: 0,
  drafted: 0,
  accepted: 0,
};
let generation = 0;
for (let round = 0; round < rounds; round++) {
  for (const g of recording.generations) {
    hour = costs.hours[generation++ % costs.hours.length] as number;
    drafter.steps = new Map(g.steps.map((s) => [s.length, s]));
    totals.boundPlainMs += hour * g.tokens * (verifyMs(1) + costs.overhead);
    totals.boundMs += hour * perfectKnowledgeMs(g.promptLength, g.tokens, acceptedDepths(drafter.steps));
    for (let i = 0; i < g.tokens; i++) totals.plainMs += paid(verifyMs(1)) + paid(costs.overhead);
    controller.reset();
    const tokens = new Int32Array(g.promptLength + g.tokens + 1);
    const context = {
      tokens,
      length: g.promptLength,
      promptLength: g.promptLength,
      features: new Float32Array(g.promptLength + g.tokens) as Float32Array | null,
      featureStart: 0,
      featureRows: g.promptLength - 1,
      featureSize: 1,
      room: 4096,
      maxDepth: 0,
    };
    const start = clock.now;
    let lastDrafted = false;
    while (context.length - g.promptLength < g.tokens) {
      const maxDepth = g.tokens - (context.length - g.promptLength) - 1;
      tree.reset(0);
      let fetched = true;
      if (maxDepth > 0) {
        context.maxDepth = maxDepth;
        await controller.propose(context, tree);
        fetched = controller.wantsStepFeatures();
      }
      const step = drafter.steps.get(context.length) as RecordedStep;
      const accepted = tree.size > 1 ? Math.min(acceptedPath(step, tree, path), maxDepth + 1) : 1;
      clock.now +=
        tree.size > 1 ? paid(verifyMs(tree.size)) : paid(verifyMs(1) + (lastDrafted ? costs.leaving : 0));
      lastDrafted = tree.size > 1;
      totals.steps++;
      if (tree.size > 1) {
        totals.drafted++;
        totals.accepted += accepted - 1;
      } else totals.plainSteps++;
      if (maxDepth > 0)
        controller.observe({ step: totals.steps, tree, path, pathLength: accepted, bonusToken: 0 });
      context.featureStart = context.length - 1;
      context.featureRows = fetched ? accepted : 0;
      context.length += accepted;
      clock.now += paid(costs.overhead);
    }
    totals.speculativeMs += clock.now - start;
    const stats = controller.controllerStats();
    const drafted = stats.steps - stats.plainSteps;
    totals.predicted += stats.predictedTokensPerStep * drafted;
    totals.actual += stats.actualTokensPerStep * drafted;
    totals.predictedMs += stats.predictedMsPerStep;
    totals.actualMs += stats.actualMsPerStep;
    totals.tokens += g.tokens;
  }
}
const round3 = (x: number) => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    budget: values.budget,
    tree: fixedTree,
    seed: Number(values.seed),
    speedup: round3(totals.plainMs / totals.speculativeMs),
    bound: round3(totals.boundPlainMs / totals.boundMs),
    tau: round3(totals.tokens / totals.steps),
    plainShare: round3(totals.plainSteps / totals.steps),
    acceptedPerDraftedStep: round3(totals.accepted / Math.max(1, totals.drafted)),
    // The controller's own view of its drafted steps: tokens it predicted and committed, and the
    // mean of its generations' predicted and actual ms a step.
    controller: {
      predictedTokens: round3(totals.predicted / Math.max(1, totals.drafted)),
      actualTokens: round3(totals.actual / Math.max(1, totals.drafted)),
      predictedMs: round3(totals.predictedMs / generation),
      actualMs: round3(totals.actualMs / generation),
    },
    msPerToken: {
      plain: round3(totals.plainMs / totals.tokens),
      speculative: round3(totals.speculativeMs / totals.tokens),
    },
  }),
);
