/**
 * Replays the EAGLE-2 budget controller over recorded draft trees (`bench:record-trees`) on a
 * simulated clock: each step's tree is the recorded one at that position cut to the controller's
 * cap, the accepted path is the recorded one within it, and the clock advances by a cost table
 * (plain step, verification by rows, drafting by depth, a catch-up after plain steps, the first
 * plain step after a tree) with seeded noise. Plain decoding is replayed on the same clock, so
 * the speed-up carries no machine noise, and controller policies can be compared step for step.
 *
 * `--budget value` replays a policy the controller does not have yet, for comparison: every step
 * grows the tree depth by depth while its best frontier node is worth a draft call, and keeps the
 * nodes whose chance of acceptance (the drafter's probability, calibrated per depth and probability
 * band on the nodes verified so far) maximises the step's tokens per ms under the cost table.
 *
 *   pnpm -s --filter @treespec/node bench:replay-controller --trees trees.json
 *     [--budget auto|fixed] [--tree '{"depth":2,"nodes":2}'] [--rounds 2] [--seed 1]
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

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg, i) => i > 0 || arg !== '--'),
  options: {
    trees: { type: 'string', default: 'trees.json' },
    // auto | fixed | value
    budget: { type: 'string', default: 'auto' },
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

/** A growth that remembers the cap the controller set; the replay drafter cuts recorded trees to it. */
class ReplayGrowth extends DynamicTreeGrowth {
  capDepth = 0;
  capNodes = 0;
  override capNext(depth: number, nodes: number): void {
    super.capNext(depth, nodes);
    this.capDepth = depth;
    this.capNodes = nodes;
  }
}

/** Upper bounds of the probability bands the value policy calibrates apart. */
const BANDS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, Number.POSITIVE_INFINITY];
/** Weight of the prior (the raw probability) in a band's chance, in observations. */
const PRIOR_WEIGHT = 2;
/** Expected chance of a frontier node's best child, relative to the node's own. */
const CHILD_SHARE = 0.85;

/** The `--budget value` policy: each step's depth and nodes from that step's own draft probabilities. */
class ValueTrees {
  private readonly hits = new Float64Array(16 * BANDS.length);
  private readonly seen = new Float64Array(16 * BANDS.length);
  private readonly chance: number[] = [];
  private readonly byChance: number[] = [];

  /** Calibrated chance that the target accepts a node at `depth` drafted with probability `p`. */
  chanceOf(depth: number, p: number): number {
    let band = 0;
    while (p >= (BANDS[band] as number)) band++;
    const k = depth * BANDS.length + band;
    return ((this.hits[k] as number) + PRIOR_WEIGHT * p) / ((this.seen[k] as number) + PRIOR_WEIGHT);
  }

  /** The depth to draft and the nodes to keep (into `keep`) at `step`, no deeper than `maxDepth`. */
  choose(step: RecordedStep, maxDepth: number, keep: number[]): number {
    const chance = this.chance;
    chance.length = 0;
    for (let i = 0; i < step.depths.length; i++) {
      const own = this.chanceOf(step.depths[i] as number, Math.exp(step.scores[i] as number));
      const parent = step.parents[i] as number;
      chance.push(parent === 0 ? own : Math.min(own, chance[parent - 1] as number));
    }
    let depth = 1;
    let rate = this.best(step, depth, keep);
    while (depth < maxDepth && depth < 16) {
      let frontier = -1;
      for (let i = 0; i < step.depths.length; i++) {
        if (
          step.depths[i] === depth &&
          (frontier < 0 || (chance[i] as number) > (chance[frontier] as number))
        )
          frontier = i;
      }
      if (frontier < 0) break;
      const rows = keep.length + 1;
      const added = costs.draftDepth + verifyMs(rows + 1) - verifyMs(rows);
      if ((chance[frontier] as number) * CHILD_SHARE < rate * added) break;
      depth++;
      rate = this.best(step, depth, keep);
    }
    return depth;
  }

  /** The nodes no deeper than `depth` with the best tokens per ms, into `keep`; returns that rate. */
  private best(step: RecordedStep, depth: number, keep: number[]): number {
    const chance = this.chance;
    const order = this.byChance;
    order.length = 0;
    for (let i = 0; i < step.depths.length; i++) if ((step.depths[i] as number) <= depth) order.push(i);
    order.sort((a, b) => (chance[b] as number) - (chance[a] as number) || a - b);
    const draft = costs.draftFirst + costs.draftDepth * (depth - 1) + costs.overhead;
    let bestRate = 1 / (draft + verifyMs(1));
    let bestCount = 0;
    let sum = 1;
    for (let k = 1; k <= order.length; k++) {
      sum += chance[order[k - 1] as number] as number;
      const rate = sum / (draft + verifyMs(k + 1));
      if (rate > bestRate) {
        bestRate = rate;
        bestCount = k;
      }
    }
    keep.length = 0;
    for (let k = 0; k < bestCount; k++) keep.push(order[k] as number);
    return bestRate;
  }

  /** Learns from the verified nodes of `step`: whether each was on the accepted path. */
  learn(step: RecordedStep, kept: readonly number[]): void {
    for (const i of kept) {
      let band = 0;
      const p = Math.exp(step.scores[i] as number);
      while (p >= (BANDS[band] as number)) band++;
      const k = (step.depths[i] as number) * BANDS.length + band;
      this.hits[k] = (this.hits[k] as number) + (step.onPath[i] as number);
      this.seen[k] = (this.seen[k] as number) + 1;
    }
  }
}

/** Drafts the recorded tree at the context's position, cut to the cap, and pays for it on the clock. */
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
  private order: number[] = [];
  private readonly index = new Int32Array(64);
  private step: RecordedStep | null = null;

  constructor(
    readonly growth: ReplayGrowth,
    /** Chooses every tree itself (`--budget value`) instead of the controller's caps. */
    readonly value: ValueTrees | null,
  ) {
    this.maxTreeSize = growth.maxTreeSize;
  }
  reset(): void {
    this.started = false;
    this.bound = 0;
  }
  catchUpWithin(rows: number): void {
    this.bound = rows;
  }
  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    const step = this.steps.get(context.length) as RecordedStep;
    this.step = step;
    this.length = context.length;
    const order = this.order;
    const depth = this.value
      ? this.value.choose(step, context.maxDepth, order)
      : Math.min(this.growth.capDepth, context.maxDepth);
    const rows = this.bound > 0 ? Math.min(this.bound, context.featureRows) : context.featureRows;
    this.bound = 0;
    let ms = costs.draftFirst + costs.draftDepth * (depth - 1);
    if (!this.started) ms += costs.promptRead;
    else if (context.length !== this.draftedThrough) ms += costs.entering;
    ms += costs.catchUpRow * rows;
    this.started = true;
    clock.now += paid(ms);
    if (!this.value) {
      order.length = 0;
      for (let i = 0; i < step.depths.length; i++) if ((step.depths[i] as number) <= depth) order.push(i);
      order.sort((a, b) => (step.scores[b] as number) - (step.scores[a] as number) || a - b);
      order.length = Math.min(order.length, this.growth.capNodes);
    }
    order.sort(
      (a, b) =>
        (step.depths[a] as number) - (step.depths[b] as number) ||
        (step.scores[b] as number) - (step.scores[a] as number) ||
        a - b,
    );
    tree.reset(0);
    for (const i of order) {
      const parent = step.parents[i] as number;
      this.index[i + 1] = tree.add(
        parent === 0 ? 0 : (this.index[parent] as number),
        i + 1,
        step.scores[i] as number,
      );
    }
  }
  observe(outcome: DraftOutcome): void {
    this.draftedThrough = this.length + outcome.pathLength;
    if (this.value && this.step) this.value.learn(this.step, this.order);
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

const growth = new ReplayGrowth(recording.capacity);
const drafter = new ReplayDrafter(growth, values.budget === 'value' ? new ValueTrees() : null);
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
  },
);
if (fixedTree) {
  const capNext = growth.capNext.bind(growth);
  growth.capNext = () => capNext(fixedTree.depth, fixedTree.nodes);
}

/** What the loop drafts with: the controller, or under `--budget value` the value policy itself. */
const drafting: Drafter = values.budget === 'value' ? drafter : controller;
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
    for (let i = 0; i < g.tokens; i++) totals.plainMs += paid(verifyMs(1)) + paid(costs.overhead);
    drafting.reset();
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
        await drafting.propose(context, tree);
        fetched = drafting.wantsStepFeatures?.() ?? true;
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
        drafting.observe?.({ step: totals.steps, tree, path, pathLength: accepted, bonusToken: 0 });
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
