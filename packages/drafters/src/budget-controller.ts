import {
  ContractError,
  type ControllerSeed,
  type ControllerStats,
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  type DraftTree,
  requireInteger,
  requireNumber,
  type TreeGrowth,
  type TreePricing,
} from '@treespec/core';
import { AcceptanceCalibration } from './acceptance-calibration.js';
import { draftCost, FRESH, type SizedCost, StepCostModel, TRUSTED } from './cost-model.js';
import { FeatureBacklog } from './feature-backlog.js';
import { samplingGeneration } from './generation-kind.js';
import { NodeChances } from './node-chances.js';
import { RobustAverage } from './robust-average.js';

/** A model drafter and the growth it drafts with, which must support per-step caps. */
export interface ControlledDrafter {
  drafter: Drafter;
  growth: TreeGrowth;
}

/** Options of {@link BudgetController}. */
export interface BudgetControllerOptions {
  /** Stored cost measurements of this machine and provider (`treespec tune`), to start from. */
  seed?: ControllerSeed;
  /** Smoothing of the moving averages of costs and acceptance. Default 0.1. */
  smoothing?: number;
  /**
   * The tree greedy generations draft before anything is measured, and again to see whether
   * speculation pays after a run of plain steps: a tree known to be good for this model family
   * (the loaders pass the device's fixed budget). Default depth 3, 4 nodes.
   */
  start?: { depth: number; nodes: number };
  /**
   * The tree sampling generations draft before anything is measured: small, since sampled text
   * accepts less, the deeper the less. Larger trees are probed once drafting pays. On the tiny
   * model at temperature 1 the 10-node start tree cost 12–48 ms a step for one token: its 8
   * steps took a fifth to a quarter of a one-off 96-token generation's time. Default depth 1, 1 node.
   */
  samplingStart?: { depth: number; nodes: number };
  /** Steps between probes of a tree one size up from the best, to keep its estimates fresh. Default 16. */
  probeEvery?: number;
  /**
   * Longest run of plain steps before drafting again to see whether speculation pays now: the
   * best tree after `probeEvery` plain steps if it came close to paying, else after
   * `2 * probeEvery` the start tree (greedy generations) or the best tree (sampling ones); each
   * run doubles while the probes lose. Default 128.
   */
  maxPlainRun?: number;
  /**
   * Most committed rows a probe out of plain decoding (or any tree drafted after at least this many
   * plain steps in a row) catches its drafter up on: a drafter that
   * would first feed its model more (the prompt and every plain step since it last drafted)
   * forgets its context and feeds the newest this many instead, so that a probe costs about the
   * same after a long run of plain steps as after a short one. Default 16.
   */
  probeCatchUp?: number;
  /**
   * Share of the time spent decoding plainly that probes out of it may lose: probes that lost L ms
   * against plain steps committing the same tokens are followed by at least L / (share × a plain
   * step) plain steps, so that speculation that does not pay costs at most about this share. A
   * candidates' regime (sampled trees) accounts every run it enters from plain steps so, and a
   * narrow win ({@link NARROW_WIN}) waits for what the last one lost to be paid for.
   * Default {@link VALUE_PROBE_SHARE} (0.03) for generations whose trees are sized by value
   * (0.01 once {@link LOST_PROBES_TO_SETTLE} of their probes in a row have lost, until drafting pays
   * again), 0.01 for the others; a number given here holds for both.
   */
  probeShare?: number;
  /**
   * The drafter for generations that sample (those whose `reset` gets a seed), e.g. one that draws
   * sampled trees; default the same drafter. Acceptance is learnt apart for greedy and sampling
   * generations either way.
   */
  sampling?: ControlledDrafter;
  /**
   * With `sampling`: the temperature from which sampling generations draft with it; below it they
   * draft with the greedy generations' drafter (its top-k trees), each way learnt apart. Default 0:
   * every sampling generation drafts with `sampling`.
   */
  samplingFrom?: number;
  /**
   * Always draft the full capacity (a fixed budget): the controller then only measures costs and
   * picks the drafter for greedy or sampling generations. Default false.
   */
  fixed?: boolean;
  /**
   * Size top-k trees by value where the drafter's growth can ({@link TreeGrowth.priceNext}), in
   * greedy generations and in sampling ones that draft top-k trees: each step's tree grows and
   * keeps what this step's own draft probabilities, calibrated against what the target accepted
   * in that kind of generation, pay for at the measured prices. False: choose each step's caps
   * among candidate sizes by their average acceptance, as sampled trees (whose growth prices no
   * node) always do. Default true.
   */
  valueTrees?: boolean;
  /** Clock in milliseconds (tests drive it). Default `performance.now`. */
  clock?: () => number;
}

/**
 * Rows whose features a tree waits for after plain steps that skipped theirs: its drafter starts
 * again from them, and a head shown only the newest row or two drafts from too little.
 */
const AFTER_GAP_ROWS = 4;

/** Steps of a run of plain steps between ratings of every candidate tree. */
const RERATE_EVERY = 8;

/** A tree expected to reach this share of plain decoding's rate is re-probed soon. */
const CLOSE = 0.9;

/**
 * Steps of each kind of generation that draft the start tree before the controller chooses:
 * enough for the calibration of every depth of it, and its cost, to rest on more than one or
 * two noisy observations (with four, the clocked toy settled a depth or two too shallow).
 */
const START_STEPS = 8;

/**
 * Start steps of a regime whose acceptance is read off its trees' prefixes ({@link Regime.prefixCaps}):
 * a sampled draft is accepted by chance (the tiny model's sampled chains at temperature 1 about
 * 45 % of the time), and over {@link START_STEPS} steps one draft in nine was, an estimate that the
 * rare probes of the plain runs it caused took hundreds of steps to correct. Over 32 steps the
 * share of such a chance lies within ±0.17 of it 95 % of the time. A start tree that cannot pay
 * even at the top of that interval ends its start sooner ({@link BudgetController.startCannotPay}).
 */
const PREFIX_START_STEPS = 32;

/**
 * How far above the start tree's mean accepted tokens a prefix regime's start looks before it
 * ends early ({@link BudgetController.startCannotPay}): this many standard errors (one-sided, about
 * 2 % of the time a tree that could pay would be taken for one that cannot).
 */
const START_BOUND_ERRORS = 2;

/**
 * Least standard deviation of a start tree's accepted tokens per step that the bound assumes: a
 * few steps that happened to agree say little about the next ones.
 */
const START_LEAST_DEVIATION = 0.25;

/**
 * A candidates' regime (sampled trees) whose best tree is predicted to beat plain decoding by less
 * than this factor enters drafting from plain steps only once what its last accounted run lost
 * is within its probe share, as after a probe; each such run is accounted as one. Its estimates
 * (the plain price, the tree's price, its expected tokens) are noisy, and a narrow win is where
 * their noise decides: at temperature 1 on the tiny model the rates started runs when the plain
 * price stood 10–13 % above the plain steps' mean and a tree's draft price 22 % below its
 * drafting's, and those steps, a majority of the drafted ones, ran 22 % below plain decoding's
 * rate where predicted 4 % above it (docs/benchmarks.md, session 69). On the clocked toy with
 * ±60 % noise (six seeds) a factor of 1.1 ran sampled chains that lose 0.994× against 0.992×,
 * that pay a little 1.043× against 1.034×, that pay well 1.363× against 1.368×; 1.2 and 1.5 ran
 * the chains that pay a little no faster and those that pay well about 1 % slower.
 */
const NARROW_WIN = 1.1;

/**
 * Speculation this many times faster than plain decoding re-times a plain step {@link FAR_AHEAD_AGE}
 * times less often.
 */
const FAR_AHEAD = 1.5;
/**
 * How much longer a plain step's price may age while speculation is far ahead: never re-timing
 * it then kept a price taken at a busy moment for good, since that price itself put speculation
 * far ahead.
 */
const FAR_AHEAD_AGE = 4;

/**
 * Node caps the controller chooses among (with the start tree's and the capacity's): a few
 * buckets, so that each tree size it drafts is timed often enough to be priced by its own
 * measurements rather than by a line through its neighbours'.
 */
const NODE_SIZES = [1, 2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 96, 128];

/**
 * Smoothing of the drafting rate of trees sized by value (about the last 30 steady steps): each
 * tree already shrinks where the text is hard, to a root verified alone at the price of one draft
 * call, so a short hard stretch should not start a run of plain steps; a long one still does. In
 * the replay of the development prompts (docs/benchmarks.md) 0.03 ran 1.30–1.34× where the
 * controller's own smoothing (0.1) ran 1.27–1.33× (two cost tables, three seeds each, in session 36).
 */
const DRAFTING_SMOOTHING = 0.03;

/**
 * Default {@link BudgetControllerOptions.probeShare} of generations whose trees are sized by value.
 * Their probes cost little where drafts are poor (the probe's tree shrinks to what its draft
 * probabilities pay for), while predictable text they miss costs much (on the development
 * prompts some generations accept the head's whole 8-token chain at most positions), and a
 * 0.01 share made one lost probe hold plain decoding for about a hundred steps, through such
 * generations. In the replay of recorded trees (docs/benchmarks.md, session 37) 0.03 ran 1.357×
 * against 0.01's 1.338× (four cost tables, three seeds); on the Zen 5 reference machine, eight
 * alternating `bench:steps` runs each, 1.274× against 1.262× (within its noise; two runs with 0.01
 * fell to 1.05× and 1.17×, spending most of their steps plain). Sampled trees keep 0.01: at
 * temperature 1 on the tiny model drafting does not pay, and what the probes lose is what they
 * cost against plain decoding.
 */
const VALUE_PROBE_SHARE = 0.03;

/** Default {@link BudgetControllerOptions.probeShare} of the other generations. */
const PROBE_SHARE = 0.01;

/**
 * Probes in a row that lost, after which greedy trees sized by value fall back from
 * {@link VALUE_PROBE_SHARE} to {@link PROBE_SHARE} until a probe's drafted run pays: a drafter
 * whose drafts never pay (the tiny bundle's EAGLE-3 head, tau 1.00) would otherwise cost greedy
 * decoding the larger share for good (0.96× plain, 2 % of its steps probes; 0.98–0.99× and 1 %
 * with this, docs/benchmarks.md). In the replay of EAGLE-2's recorded trees no run of 8 lost
 * probes occurs: all twelve replays (four cost tables, three seeds) ran as before; with 3, the
 * mean fell from 1.360× to 1.352× (one replay from 1.332× to 1.294×). Settled so, its probes also
 * start its calibrated chances afresh, so that it finds its way back when drafts pay again.
 */
const LOST_PROBES_TO_SETTLE = 8;

/** Learnt state of one kind of generation (greedy or sampling) with its drafter. */
class Regime {
  readonly calibration: AcceptanceCalibration;
  /** Draft costs of steps that also caught up on a prompt or on plain steps: used until steady ones are known. */
  readonly catchUp: SizedCost;
  /** Per candidate and depth, the moving average of the drafter's probability mass there. */
  readonly mass: Float64Array;
  readonly known: Uint8Array;
  /**
   * Whether its drafter's growth never prunes and tells which nodes a smaller cap keeps
   * ({@link TreeGrowth.capKeeps}, {@link TreeGrowth.capCovers}; sampled trees, whose node ids are
   * tree indices in the order drawn). Each candidate's acceptance is then read off every drafted
   * tree that holds it ({@link Regime.accepted}) rather than from the drafter's probabilities: a
   * sampled node's probability is that of a token drawn at random, which says little about whether
   * the target accepts it. At temperature 1 on the tiny model the probabilities priced a sampled
   * one-token chain at 0.08–0.15 accepted tokens where it accepted 0.5, and the controller decoded
   * plainly three steps in four.
   */
  readonly prefixCaps: boolean;
  /** Per candidate, the moving average of the drafted tokens its prefix of each tree accepted. */
  readonly accepted: Float64Array;
  /** Per candidate, the trees that average has seen. */
  readonly acceptedSeen: Uint32Array;
  drafted = 0;
  /**
   * The start tree's expected accepted tokens per step over its start steps (count, sum, sum of
   * squares), for a regime whose acceptance is read off its trees' prefixes.
   */
  readonly startAccepted = { count: 0, sum: 0, squares: 0 };
  /** Whether its start ended before {@link PREFIX_START_STEPS}: the start tree could not pay. */
  startCut = false;
  probedFull = false;
  sinceProbe = 0;
  plainRun = 0;
  plainLimit: number;
  closeLimit: number;
  /** A probe out of plain decoding just drafted: the next step drafts too, to time steady drafting. */
  measureNext = false;
  /**
   * Whether the drafted steps since the last run of plain steps are accounted as a probe of it:
   * a probe's, or (in a candidates' regime) any run entered from a plain step.
   */
  probing = false;
  /** Milliseconds those steps lost against plain steps committing the same tokens. */
  probeLoss = 0;
  /**
   * The deepest tree its drafter grows: deeper candidates are not its own, and their draft costs
   * would be filed under depths it never drafts. (A node cap past its largest tree drafts that
   * tree, whose verification is timed by its size.)
   */
  readonly depthCap: number;
  /** The candidate with the highest predicted rate at the last rating (-1: none), that rate, and its step's ms. */
  best = -1;
  bestRate = 0;
  bestMs = 0;
  /**
   * How much dearer than its price a tree is right after plain steps: its drafter first catches
   * up on the rows the plain steps committed (actual over predicted ms of such steps).
   */
  readonly entering: RobustAverage;
  /**
   * How much dearer than its price a tree at a generation's first step is (actual over predicted
   * ms): its drafter first reads the prompt (an EAGLE head its newest rows, a draft LM all of it).
   */
  readonly starting: RobustAverage;
  /** Drafted steps per run of them (between plain steps, or to a generation's end). */
  readonly runLength: RobustAverage;
  /** Drafted steps in the current run. */
  runSteps = 0;
  /** Its largest candidate (a fixed budget, the first probe) and the one nearest the start tree. */
  full = 0;
  start = 0;
  /**
   * Whether its trees are sized by value once the start trees are drafted: each step's growth
   * prices its own nodes ({@link TreeGrowth.priceNext}) within the largest candidate, rather than
   * the controller capping it at the candidate whose average acceptance rates best.
   */
  readonly valued: boolean;
  /** Chances of acceptance by depth and draft probability, for trees sized by value. */
  readonly chances: NodeChances;
  /**
   * Expected tokens (plain moving average) and ms (the overhead included, spikes dropped) of its
   * steady drafted steps: the rate of drafting, for trees sized by value.
   */
  draftingTokens = Number.NaN;
  draftingSteps = 0;
  readonly draftingMs: RobustAverage;
  /** A probe out of plain decoding drafted: the next steady step starts the drafting rate again. */
  rerate = false;
  /** The option given, or null: the share then depends on how its probes fared ({@link Regime.probeShare}). */
  private readonly givenShare: number | null;
  /** Probes out of plain decoding in a row whose drafted runs did not pay for them. */
  lostProbes = 0;

  constructor(
    readonly part: ControlledDrafter,
    readonly draft: SizedCost,
    candidates: number,
    readonly maxDepth: number,
    smoothing: number,
    probeEvery: number,
    /**
     * The tree a probe out of plain decoding drafts when the best one was far from paying: the
     * start tree for greedy generations, whose deep chains are what pays there and which one probe
     * of it finds; the best-rated tree for sampling ones, where acceptance falls with depth and a
     * probe of the start tree cost two to three plain tokens for the one or two it committed.
     * Trees sized by value probe with a tree sized by value, which is small where drafts are poor.
     */
    readonly farProbe: 'start' | 'best',
    valued: boolean,
    /** The option given, if any. */
    probeShare: number | undefined,
  ) {
    this.calibration = new AcceptanceCalibration(maxDepth, smoothing);
    this.catchUp = draftCost(maxDepth, smoothing);
    this.mass = new Float64Array(candidates * (maxDepth + 1));
    this.known = new Uint8Array(candidates);
    const { growth } = part;
    this.prefixCaps = !growth.prunes && growth.capKeeps !== undefined && growth.capCovers !== undefined;
    this.accepted = new Float64Array(candidates);
    this.acceptedSeen = new Uint32Array(candidates);
    this.plainLimit = 2 * probeEvery;
    this.closeLimit = probeEvery;
    this.depthCap = part.growth.maxDepth;
    this.entering = new RobustAverage(smoothing);
    this.starting = new RobustAverage(smoothing);
    this.valued = valued && part.growth.priceNext !== undefined;
    this.givenShare = probeShare ?? null;
    this.chances = new NodeChances(maxDepth);
    this.draftingMs = new RobustAverage(DRAFTING_SMOOTHING);
    // A long run is no spike: a generation that drafts throughout is one run.
    this.runLength = new RobustAverage(smoothing, Number.POSITIVE_INFINITY);
  }

  /** Steps that draft the start tree before the controller chooses. */
  get startSteps(): number {
    if (this.startCut) return 0;
    return this.prefixCaps ? PREFIX_START_STEPS : START_STEPS;
  }

  /** Records a steady drafted step: its expected tokens and its ms. */
  recordDrafting(tokens: number, ms: number): void {
    if (this.rerate) {
      this.rerate = false;
      this.draftingSteps = 0;
      this.draftingMs.clear();
    }
    this.draftingSteps++;
    this.draftingTokens =
      this.draftingSteps === 1
        ? tokens
        : this.draftingTokens +
          Math.max(DRAFTING_SMOOTHING, 1 / this.draftingSteps) * (tokens - this.draftingTokens);
    this.draftingMs.record(ms);
  }

  /** Ends the current run of drafted steps, if any, recording its length. */
  endRun(): void {
    if (this.runSteps > 0) this.runLength.record(this.runSteps);
    this.runSteps = 0;
  }

  /**
   * Share of its plain decoding's time that its probes may lose
   * ({@link BudgetControllerOptions.probeShare}): the option given, else {@link VALUE_PROBE_SHARE}
   * for trees sized by value until {@link LOST_PROBES_TO_SETTLE} probes in a row have lost, and
   * {@link PROBE_SHARE} otherwise.
   */
  get probeShare(): number {
    if (this.givenShare !== null) return this.givenShare;
    return this.valued && !this.settled ? VALUE_PROBE_SHARE : PROBE_SHARE;
  }

  /** Whether {@link LOST_PROBES_TO_SETTLE} of its probes in a row have lost. */
  get settled(): boolean {
    return this.lostProbes >= LOST_PROBES_TO_SETTLE;
  }

  /**
   * Whether its chances were started afresh at the current probe (a settled regime's probes start
   * them so, and `lostProbes` changes only when a probe's run ends): until the run ends, they are
   * the drafter's own probabilities, no calibration, so its trees keep at least their likeliest
   * node ({@link TreePricing.minNodes}) and its drafting rate counts the tokens its steps
   * committed rather than the ones they expected.
   */
  get freshChances(): boolean {
    return this.probing && this.valued && this.settled;
  }

  /** Predicted ms of drafting `depth` depths. */
  draftMs(depth: number): number {
    return this.draft.measured ? this.draft.at(depth) : this.catchUp.at(depth);
  }

  /** {@link Regime.draftMs} of every depth, into `out[1..maxDepth]`. */
  draftPricesInto(out: Float64Array): void {
    (this.draft.measured ? this.draft : this.catchUp).pricesInto(out);
  }
}

/**
 * Chooses each step's draft tree for the machine it runs on: the depth and node count (within the
 * drafter's capacity) that maximise expected committed tokens per second — or no tree at all, a
 * plain step, when speculation does not pay.
 *
 * - Costs are measured during generation ({@link StepCostModel}): drafting by depth from `propose`
 *   to its return, verification by tree size from there to `observe`, and the overhead between
 *   steps; spikes are dropped.
 * - Top-k trees are sized by value (`valueTrees`, where the drafter's growth supports
 *   {@link TreeGrowth.priceNext}), in greedy generations and in sampling ones alike, each kind
 *   with its own chances: after the start trees, every drafted step hands the growth the
 *   measured prices (verification by rows along a line through the measured sizes, drafting by
 *   depth) and {@link NodeChances} — the drafter's probabilities calibrated per depth and
 *   probability band against what the target accepted — and the growth grows a depth while its
 *   best frontier node pays for the draft call and row, then keeps the nodes with the most
 *   expected tokens per ms, none at all where nothing pays. A tree thus follows this step's own
 *   confidence, deep where the text is predictable, a root alone where it is not, rather than an
 *   average of the last trees'; the plain-or-draft choice below rates it by its drafted steps'
 *   expected tokens per ms ({@link DRAFTING_SMOOTHING}), afresh after each probe out of plain
 *   decoding. On the replay of the development prompts (docs/benchmarks.md) this ran 1.21–1.47×
 *   plain decoding where choosing among candidates ran 1.17–1.40× and the best fixed tree
 *   1.29–1.43×. At temperatures 0.3–0.7, where a head over a reduced draft vocabulary drafts
 *   top-k trees, it ran 1.14–1.19× plain decoding at 0.7 and 1.39× at 0.5 where choosing among
 *   candidates ran 1.06–1.10× and 1.21×, decoding plainly on 55–75 % of the steps.
 * - Otherwise (sampled trees, `valueTrees: false`) acceptance comes from the drafter's own
 *   probabilities: for every candidate (depth, nodes) the probability mass its tree would have at
 *   each depth, taken from the trees actually drafted, turned into chances by a per-depth
 *   {@link AcceptanceCalibration} against what was accepted, and each step drafts the candidate
 *   with the best expected rate.
 * - It starts with the start tree (one known to be good for the model family), times a plain
 *   step, and from then on takes the best candidate it has seen; every `probeEvery` steps it
 *   probes a larger tree: the whole capacity the first time (pricing every candidate at once),
 *   one size up from the best later. When plain steps win it tries the best tree again after
 *   `probeEvery` plain steps if that tree came close, else after `2 * probeEvery` a tree sized by
 *   value where trees are, else the start tree in greedy generations and the best tree in
 *   sampling ones; the runs double while the probes lose (up to `maxPlainRun`). Sampled trees
 *   enter on a narrow win only once what their last run of drafted steps lost is paid for
 *   ({@link NARROW_WIN}), as after a probe. A plain step is priced by plain steps that follow a
 *   plain step, as plain decoding runs them (so timing it takes two plain steps), and re-timed
 *   every {@link FRESH} steps (four times as many while speculation wins by far).
 * - Switching is priced too: a tree right after plain steps costs more than its price (the
 *   drafter catches up on their rows), a generation's first tree more still (it reads the
 *   prompt), and so does the plain step right after a tree (the target's first one-row call
 *   after a tree's); into drafting a tree must win by that cost spread over a run of drafted
 *   steps, no longer than the tokens the generation has left (`DraftContext.maxDepth`) allow.
 *
 * - A run of plain steps, close to paying or far from it, asks the target for no features
 *   ({@link BudgetController.wantsStepFeatures}) until its probe nears: the probe catches its
 *   drafter up on the newest `probeCatchUp` rows alone, whose features it fetches. A tree the
 *   rates favour before then waits for the features of the newest {@link AFTER_GAP_ROWS} steps,
 *   and its drafter starts again after the gap.
 *
 * Lossless whatever it picks: the cap is set before drafting, so a tree is only ever smaller. A
 * feature drafter sitting out plain steps is caught up later from a {@link FeatureBacklog}. Its
 * choices (never its output) depend on timing.
 */
export class BudgetController implements Drafter {
  readonly name: string;
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  readonly costs: StepCostModel;
  /** Candidate caps: `depths[c]` depths, `nodes[c]` draft nodes. */
  readonly depths: Int32Array;
  readonly nodes: Int32Array;
  /** The model drafter it controls for greedy generations. */
  readonly inner: Drafter;
  /** The last choice: depth and node caps, both 0 for a plain step. */
  readonly lastChoice = { depth: 0, nodes: 0, probe: false };
  private readonly greedy: Regime;
  private readonly sampled: Regime;
  /** Sampling generations below {@link BudgetControllerOptions.samplingFrom}: the greedy drafter's trees. */
  private readonly sampledTopK: Regime;
  private readonly samplingFrom: number;
  private active: Regime;
  private readonly clock: () => number;
  private readonly backlog = new FeatureBacklog();
  private readonly start: { depth: number; nodes: number };
  private readonly samplingStart: { depth: number; nodes: number };
  private readonly probeEvery: number;
  private readonly maxPlainRun: number;
  private readonly probeCatchUp: number;
  /** Whether this step probes out of a run of plain steps. */
  private outOfPlain = false;
  /** Whether the features of the rows this step commits may be read ({@link BudgetController.wantsStepFeatures}). */
  private stepFeatures = true;
  /** Whether the loop asked and was told to skip this step's features. */
  private skipped = false;
  /** Steps in a row up to the last one whose features were fetched (the prompt's all are). */
  private featureRun = Number.POSITIVE_INFINITY;
  private readonly fixed: boolean;
  private readonly smoothing: number;
  private readonly maxDepth: number;
  private readonly order: Int32Array;
  private readonly probability: Float64Array;
  private readonly scratch: Float64Array;
  /** Prices by tree size and by draft depth, filled when the candidates are rated. */
  private readonly verifyPrices: Float64Array;
  private readonly draftPrices: Float64Array;
  /** A sampled tree's chain of first draws, and the chance of reaching each ({@link BudgetController.learnPrefixAcceptance}). */
  private readonly firstDrawNodes: Int32Array;
  private readonly firstDrawReach: Float64Array;
  private proposeStart = 0;
  private proposeEnd = 0;
  private lastObserveEnd = Number.NaN;
  private expectedLength = -1;
  private lengthAtPropose = 0;
  private proposed = false;
  /** Whether this step follows a drafted step of the same generation. */
  private steady = false;
  /** Whether this step follows a plain step of the same generation. */
  private afterPlain = false;
  /** Whether the drafter has drafted in this generation: its first tree reads the prompt first. */
  private drafterStarted = false;
  /**
   * Whether this step is the generation's first and drafts a tree the rates chose: its drafter
   * reads the prompt first (a probe's reads no more than `probeCatchUp` rows of it).
   */
  private starts = false;
  /** Tokens the generation can still take (`maxDepth + 1` of this step's context). */
  private tokensLeft = 0;
  private lastDrafted = false;
  private predicted = 0;
  private readonly stats = {
    steps: 0,
    plain: 0,
    probes: 0,
    drafted: 0,
    depth: 0,
    nodes: 0,
    predicted: 0,
    actual: 0,
    predictedMs: 0,
    actualMs: 0,
    timed: 0,
  };
  private predictedMs = 0;
  /** Whether this step's tree is sized by value ({@link Regime.valued}), under {@link BudgetController.pricing}. */
  private pricedStep = false;
  /** What trees sized by value read: this controller's prices and the active regime's chances. */
  private readonly pricing: TreePricing;

  constructor(part: ControlledDrafter, options: BudgetControllerOptions = {}) {
    const parts = options.sampling ? [part, options.sampling] : [part];
    for (const p of parts) {
      if (!p.growth.capNext) {
        throw new ContractError(`the ${p.drafter.name} drafter's tree growth cannot be capped per step`);
      }
      // A growth the drafter does not grow with: its caps would cap nothing the drafter drafts.
      const own = (p.drafter as { growth?: unknown }).growth;
      if (own !== undefined && own !== p.growth) {
        throw new ContractError(
          `the growth given with the ${p.drafter.name} drafter is not the one it grows its trees with (its \`growth\`); pass that one`,
        );
      }
    }
    this.smoothing = requireNumber('smoothing', options.smoothing ?? 0.1, {
      min: 0,
      max: 1,
      minExclusive: true,
    });
    this.probeEvery = requireInteger('probeEvery', options.probeEvery ?? 16, 1);
    this.maxPlainRun = requireInteger('maxPlainRun', options.maxPlainRun ?? 128, 1);
    this.probeCatchUp = requireInteger('probeCatchUp', options.probeCatchUp ?? 16, 1);
    const probeShare =
      options.probeShare === undefined
        ? undefined
        : requireNumber('probeShare', options.probeShare, { min: 0, max: 1, minExclusive: true });
    this.clock = options.clock ?? (() => performance.now());
    this.fixed = options.fixed ?? false;
    this.name = part.drafter.name;
    this.inner = part.drafter;
    this.needsFeatures = parts.some((p) => p.drafter.needsFeatures);
    this.maxTreeSize = Math.max(...parts.map((p) => p.drafter.maxTreeSize));
    this.maxDepth = Math.max(...parts.map((p) => p.growth.maxDepth));
    const maxNodes = this.maxTreeSize - 1;
    this.start = requireTree('start', options.start ?? { depth: 3, nodes: 4 });
    this.samplingStart = requireTree('samplingStart', options.samplingStart ?? { depth: 1, nodes: 1 });
    const sizes = [...new Set([...NODE_SIZES, this.start.nodes, this.samplingStart.nodes])]
      .filter((n) => n < maxNodes)
      .sort((a, b) => a - b);
    const depths: number[] = [];
    const nodes: number[] = [];
    for (let d = 1; d <= this.maxDepth; d++) {
      for (const n of [...sizes, maxNodes]) {
        if (n >= d) {
          depths.push(d);
          nodes.push(n);
        }
      }
    }
    this.depths = Int32Array.from(depths);
    this.nodes = Int32Array.from(nodes);
    this.costs = new StepCostModel(this.maxTreeSize, this.smoothing);
    const greedyDraft = draftCost(this.maxDepth, this.smoothing);
    const valueTrees = !this.fixed && (options.valueTrees ?? true);
    this.greedy = new Regime(
      part,
      greedyDraft,
      depths.length,
      this.maxDepth,
      this.smoothing,
      this.probeEvery,
      'start',
      valueTrees,
      probeShare,
    );
    const samplingRegime = (part: ControlledDrafter, draft: SizedCost) =>
      new Regime(
        part,
        draft,
        depths.length,
        this.maxDepth,
        this.smoothing,
        this.probeEvery,
        'best',
        valueTrees,
        probeShare,
      );
    this.sampledTopK = samplingRegime(part, greedyDraft);
    this.sampled = options.sampling
      ? samplingRegime(options.sampling, draftCost(this.maxDepth, this.smoothing))
      : this.sampledTopK;
    this.samplingFrom = requireNumber('samplingFrom', options.samplingFrom ?? 0, { min: 0 });
    this.active = this.greedy;
    for (const regime of [this.greedy, this.sampledTopK, this.sampled]) {
      regime.full = this.largestCandidate(regime);
      regime.start = this.startCandidate(regime, regime === this.greedy ? this.start : this.samplingStart);
    }
    if (options.seed) this.costs.seed(options.seed, greedyDraft);
    this.order = new Int32Array(this.maxTreeSize);
    this.probability = new Float64Array(this.maxTreeSize);
    this.scratch = new Float64Array(this.maxDepth + 1);
    this.verifyPrices = new Float64Array(this.maxTreeSize + 1);
    this.draftPrices = new Float64Array(this.maxDepth + 1);
    this.firstDrawNodes = new Int32Array(this.maxTreeSize);
    this.firstDrawReach = new Float64Array(this.maxTreeSize);
    const verifyPrices = this.verifyPrices;
    const draftPrices = this.draftPrices;
    const costs = this.costs;
    const active = () => this.active;
    this.pricing = {
      chance: (depth, probability) => this.active.chances.chance(depth, probability),
      verifyMs: (rows) => verifyPrices[Math.min(rows, verifyPrices.length - 1)],
      draftMs: (depth) => draftPrices[Math.min(depth, draftPrices.length - 1)],
      get stepMs() {
        return costs.overheadMs();
      },
      get minNodes() {
        return active().freshChances ? 1 : 0;
      },
    };
  }

  /** The measured costs, as a seed for later runs on this machine and provider. */
  snapshot(): ControllerSeed {
    return this.costs.snapshot(this.greedy.draft);
  }

  /**
   * Expected drafted tokens accepted with candidate `c`'s tree in the current kind of generation;
   * NaN before a tree covering it was drafted.
   */
  expectedAccepted(c: number): number {
    const regime = this.active;
    if (regime.known[c] === 0) return Number.NaN;
    if (regime.prefixCaps) return regime.accepted[c];
    const base = c * (this.maxDepth + 1);
    let chance = 1;
    let sum = 0;
    for (let d = 1; d <= this.depths[c]; d++) {
      chance = Math.min(chance, regime.calibration.chance(d, regime.mass[base + d]));
      sum += chance;
    }
    return sum;
  }

  reset(seed?: number, temperature?: number): void {
    this.skipped = false;
    this.active.endRun();
    // A sampling generation without a temperature samples at 1.
    if (!samplingGeneration(seed, temperature)) this.active = this.greedy;
    else this.active = (temperature ?? 1) >= this.samplingFrom ? this.sampled : this.sampledTopK;
    this.active.part.drafter.reset(seed, temperature);
    this.backlog.clear();
    this.lastObserveEnd = Number.NaN;
    this.expectedLength = -1;
    this.proposed = false;
    this.lastDrafted = false;
    this.drafterStarted = false;
    const s = this.stats;
    s.steps = s.plain = s.probes = s.drafted = s.depth = s.nodes = s.predicted = s.actual = 0;
    s.predictedMs = s.actualMs = s.timed = 0;
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    const t0 = this.clock();
    if (context.length === this.expectedLength) {
      this.costs.overhead.record(t0 - this.lastObserveEnd);
      if (Number.isFinite(this.predictedMs)) {
        this.stats.predictedMs += this.predictedMs;
        this.stats.actualMs += t0 - this.proposeStart;
        this.stats.timed++;
      }
    }
    this.steady = this.lastDrafted && context.length === this.expectedLength;
    this.afterPlain = !this.lastDrafted && context.length === this.expectedLength;
    this.lengthAtPropose = context.length;
    this.tokensLeft = context.maxDepth + 1;
    this.proposeStart = t0;
    const regime = this.active;
    this.outOfPlain = false;
    // The rows held end where the last step's features were skipped: the next ones follow a gap.
    if (this.skipped) this.backlog.clear();
    if (context.length !== this.expectedLength) this.featureRun = Number.POSITIVE_INFINITY;
    else this.featureRun = this.skipped ? 0 : this.featureRun + 1;
    this.stepFeatures = true;
    this.skipped = false;
    const plainRun = regime.plainRun;
    const choice = this.choose(regime);
    this.starts = choice >= 0 && !this.outOfPlain && context.length === context.promptLength;
    if (choice >= 0) this.drafterStarted = true;
    this.stats.steps++;
    this.proposed = true;
    if (choice < 0) {
      regime.endRun();
      if (this.needsFeatures) this.backlog.hold(context);
      tree.reset(context.tokens[context.length - 1]);
    } else {
      regime.runSteps++;
      const { drafter, growth } = regime.part;
      // Any tree out of a long run of plain steps, a probe or one that the rates now favour,
      // catches up within the bound: unbounded, the rows of the whole run cost several plain steps.
      if (this.outOfPlain || plainRun >= this.probeCatchUp) drafter.catchUpWithin?.(this.probeCatchUp);
      // Near maxTokens the drafter stops at the generation's last useful depth: drafting is
      // timed by the depth it reaches.
      if (this.lastChoice.depth > context.maxDepth) this.lastChoice.depth = context.maxDepth;
      (growth.capNext as (depth: number, nodes: number) => void).call(
        growth,
        this.lastChoice.depth,
        this.lastChoice.nodes,
      );
      growth.priceNext?.(this.pricedStep ? this.pricing : null);
      await drafter.propose(this.needsFeatures ? this.backlog.release(context) : context, tree);
      const expected = growth.expectedAccepted;
      if (this.pricedStep && expected !== undefined && Number.isFinite(expected))
        this.predicted = 1 + expected;
      // The start trees of a regime sized by value: no candidate's acceptance is learnt, but the
      // chances price any tree (the drafter's own probabilities before anything is verified).
      else if (regime.valued && !this.pricedStep) this.predicted = 1 + regime.chances.expectedAccepted(tree);
    }
    this.proposeEnd = this.clock();
  }

  /**
   * Bounds the catch-up of the next tree its drafter grows ({@link Drafter.catchUpWithin}): a
   * drafter wrapping this one that sat it out for a while (a hybrid's model part) sets it.
   */
  catchUpWithin(rows: number): void {
    this.active.part.drafter.catchUpWithin?.(rows);
  }

  /**
   * After `propose`: no in a run of plain steps far from its probe (see the class), yes otherwise.
   * A caller that never asks (a drafter wrapping this one) gets every row as before.
   */
  wantsStepFeatures(): boolean {
    this.skipped = !this.stepFeatures;
    return this.stepFeatures;
  }

  observe(outcome: DraftOutcome): void {
    if (!this.proposed) throw new ContractError('observe() needs a propose() first');
    const now = this.clock();
    const regime = this.active;
    const { tree, pathLength } = outcome;
    const s = this.stats;
    if (this.lastChoice.depth === 0) {
      // A plain step is priced only where it follows a plain step: the first target call after
      // drafting can cost several plain tokens (the drafter's calls between, the page drawing the
      // last tree), which a run of plain steps pays once, not per step.
      if (this.afterPlain) this.costs.recordPlain(now - this.proposeEnd);
      else if (this.steady) this.costs.recordLeaving(now - this.proposeEnd);
      this.tickDraft(regime);
      s.plain++;
    } else {
      // A tree sized by value grew as deep as its nodes paid for, within the cap.
      const grown = this.pricedStep
        ? (regime.part.growth.grownDepth ?? this.lastChoice.depth)
        : this.lastChoice.depth;
      if ((this.starts || this.afterPlain) && tree.size > 1 && regime.draft.measured) {
        const priced = regime.draftMs(grown) + this.costs.verify.at(tree.size);
        const ms = now - this.proposeStart;
        (this.starts ? regime.starting : regime.entering).record(ms / priced);
      }
      if (tree.size > 1) this.costs.verify.record(tree.size, now - this.proposeEnd);
      // Drafting right after a drafted step: the draft model committed one step's rows, not a
      // prompt or the rows of plain steps, so this is what drafting at this depth costs. The
      // drafter expanded every depth up to the cap (one model call each), even where the rerank
      // kept no node that deep (a tree sized by value may keep none).
      const depth = tree.size > 1 || this.pricedStep ? grown : 0;
      const ms = this.proposeEnd - this.proposeStart;
      if (depth > 0 && this.steady) {
        // A candidates' regime starts a stale price again: taken long ago (on the tiny model at
        // temperature 1, in the first generation's cold calls: 2.7 ms for a depth that costs 0.9),
        // it would take many timings to forget, and a regime that drafts seldom takes few.
        if (!regime.valued && regime.draft.age(depth) > FRESH) regime.draft.forget(depth);
        regime.draft.record(depth, ms);
      } else {
        if (depth > 0) regime.catchUp.record(depth, ms);
        this.tickDraft(regime);
      }
      // Its expected tokens rather than the committed ones: as calibrated as them on average, far
      // less noisy, and they follow the draft's confidence at this step. Chances just started
      // afresh are not calibrated yet: on the real tiny model a drafter whose drafts never paid
      // then drafted some 80 steps on them, which kept the next probe 2500 steps away.
      const tokens = regime.freshChances ? pathLength : this.predicted;
      const expected = regime.prefixCaps ? this.learnPrefixAcceptance(regime, outcome) : Number.NaN;
      if (this.pricedStep && this.steady) {
        regime.recordDrafting(tokens, now - this.proposeStart + this.costs.overheadMs());
      }
      // A probe of candidates (sampling generations) is judged by expected tokens too: at
      // temperature 1 a sampled chain commits one token or two by chance, and a probe that lost by
      // chance kept the next one 60 plain steps away. Where the verifier knows the chances of the
      // tree's draws, by what this tree was expected to commit: the prediction made before the
      // step lies below plain decoding's whenever a probe starts, so judged by it every probe of a
      // close tree lost, and the plain runs grew to hundreds of steps. Trees sized by value keep
      // the tokens committed: on the replay their expected tokens lengthened the plain runs (one
      // seed of three 1.32× → 1.27×).
      if (regime.probing) {
        const plainMs = this.plainMs(regime);
        const committed = regime.valued ? pathLength : Number.isNaN(expected) ? tokens : 1 + expected;
        if (!Number.isNaN(plainMs)) regime.probeLoss += now - this.proposeStart - committed * plainMs;
      }
      if (regime.valued) regime.chances.record(outcome);
      else if (!regime.prefixCaps) {
        regime.calibration.record(tree, pathLength - 1);
        this.learnMasses(regime, tree);
      }
      regime.drafted++;
      regime.part.drafter.observe?.(outcome);
      s.drafted++;
      s.depth += grown;
      s.nodes += tree.size - 1;
      s.predicted += this.predicted;
      s.actual += pathLength;
      if (this.lastChoice.probe) s.probes++;
    }
    this.expectedLength = this.lengthAtPropose + pathLength;
    this.lastDrafted = this.lastChoice.depth > 0;
    this.lastObserveEnd = this.clock();
  }

  controllerStats(): ControllerStats {
    const s = this.stats;
    const per = (x: number) => (s.drafted > 0 ? x / s.drafted : 0);
    const plainStep = this.costs.plainMs();
    return {
      steps: s.steps,
      plainSteps: s.plain,
      probeSteps: s.probes,
      meanDepth: per(s.depth),
      meanNodes: per(s.nodes),
      predictedTokensPerStep: per(s.predicted),
      actualTokensPerStep: per(s.actual),
      predictedMsPerStep: s.timed > 0 ? s.predictedMs / s.timed : 0,
      actualMsPerStep: s.timed > 0 ? s.actualMs / s.timed : 0,
      meanDraftRun: Number.isNaN(this.active.runLength.mean) ? 0 : this.active.runLength.mean,
      costs: {
        plainStep: Number.isNaN(plainStep) ? 0 : plainStep,
        verify: this.costs.verify.entries(),
        draft: this.active.draft.entries(),
        overhead: this.costs.overheadMs(),
        entering: ratioOr1(this.active.entering.mean),
        starting: ratioOr1(this.active.starting.mean),
        leaving: ratioOr1(this.costs.leaving.mean),
      },
    };
  }

  async dispose(): Promise<void> {
    await this.greedy.part.drafter.dispose?.();
    if (this.sampled.part !== this.greedy.part) await this.sampled.part.drafter.dispose?.();
  }

  /** Picks this step's tree: sets `lastChoice` and `predicted`; returns the candidate, or -1 for plain. */
  private choose(regime: Regime): number {
    if (this.fixed) return this.pick(regime.full, false);
    if (regime.drafted < regime.startSteps) {
      if (!regime.prefixCaps || regime.drafted < START_STEPS) return this.pick(regime.start, false);
      // Past the greedy regimes' start, a prefix regime times a plain step (the second of two in
      // a row) and ends its start where the start tree cannot pay even at the top of its
      // acceptance's interval.
      if (this.costs.verify.observations(1) === 0) return this.pickPlain(this.costs.plainMs());
      if (!this.startCannotPay(regime)) return this.pick(regime.start, false);
      regime.startCut = true;
    }
    // Trees sized by value are drafted until one steady step of them is timed: their rate.
    if (regime.valued && regime.draftingSteps === 0) {
      this.rateValue(regime);
      return this.pick(regime.full, false);
    }
    // Within a run of plain steps nothing the candidates' rates rest on changes but the costs'
    // slow drift, so the best tree is re-rated every RERATE_EVERY steps of the run (rating every
    // candidate took about 27 µs a step on the reference machine, 1 % of a plain step).
    if (regime.plainRun === 0 || regime.plainRun % RERATE_EVERY === 0) {
      if (regime.valued) this.rateValue(regime);
      else this.rateCandidates(regime);
    }
    const { best, bestRate } = regime;
    const plainMs = this.plainMs(regime);
    const plainRate = 1 / plainMs;
    // A plain step is timed once, then now and then to keep its cost current as the machine's
    // load changes, less often while speculation wins by far. Only the second of two plain steps
    // in a row is timed, so this picks a plain step until one is.
    const age = this.costs.verify.age(1);
    if (age > (bestRate > FAR_AHEAD * plainRate ? FAR_AHEAD_AGE * FRESH : FRESH))
      return this.pickPlain(plainMs);
    // Right after a probe out of plain decoding, one more tree times drafting without a catch-up,
    // unless that cost is known already.
    const measure =
      best >= 0 &&
      this.lastDrafted &&
      (!regime.draft.measured ||
        (regime.measureNext && (regime.valued || this.draftPriceWanted(regime, best, plainMs))));
    regime.measureNext = false;
    if (measure) return this.pick(best, true);
    const entering = best < 0 ? 0 : this.enteringRate(regime);
    const leaving = this.leavingPlainRate(regime, plainMs);
    if (best < 0 || entering <= leaving) {
      // Close to paying: try the best tree again soon. Far from it: the regime's far probe later
      // (the start tree until a tree is rated). Each
      // run of plain steps is twice the one before (up to `maxPlainRun`) until drafting wins, and
      // long enough that what the last probes lost stays within `probeShare` of the run's time.
      const close = best >= 0 && bestRate > CLOSE * plainRate;
      // The first plain step after a probe's drafted run: that run paid for the probe, or not.
      if (regime.probing) regime.lostProbes = regime.probeLoss > 0 ? regime.lostProbes + 1 : 0;
      regime.probing = false;
      const paidFor = !this.owes(regime, plainRate);
      const limit = close ? regime.closeLimit : regime.plainLimit;
      if (++regime.plainRun < limit || !paidFor || this.featuresMissing()) {
        // Until its probe nears, a run of plain steps does not fetch the target's features
        // (0.02–0.05 ms a plain step on the reference CPU): a probe catches its drafter up on the
        // newest `probeCatchUp` rows alone, which are fetched, and a tree the rates favour sooner
        // waits for a few (`featuresMissing`). Runs close to paying fetched on every step: at
        // temperature 1 on the tiny model, 37 % of EAGLE-2's plain steps (session 56; without,
        // 1.018× at temperature 1 and 1.020× greedy, 12 and 10 alternating runs, within noise).
        const due = Math.max(limit, (regime.probeLoss * plainRate) / regime.probeShare);
        this.stepFeatures = regime.plainRun >= due - 1 - this.probeCatchUp;
        return this.pickPlain(plainMs);
      }
      regime.plainRun = 0;
      regime.probeLoss = 0;
      regime.probing = true;
      this.outOfPlain = true;
      regime.measureNext = true;
      // Trees sized by value are rated afresh by the probe's drafting: the last rate is from
      // before the run of plain steps, which that rate itself started.
      regime.rerate = regime.valued;
      // A settled regime's chances have learnt that every draft loses, so a tree sized by them
      // keeps no node and its probe verifies nothing to learn from: it would never find its way
      // back to text that became predictable (on the clocked toy, 3000 tokens of a perfect drafter
      // after 3200 of drafts that never paid stayed plain). Its probes start them afresh from the
      // drafter's own probabilities, keep at least their likeliest node (an under-confident
      // drafter's probabilities alone may keep none) and are rated by what they commit; what that
      // costs stays within the probe share.
      if (regime.freshChances) regime.chances.clear();
      if (close) {
        regime.closeLimit = Math.min(this.maxPlainRun, 2 * regime.closeLimit);
        return this.pick(best, true);
      }
      regime.plainLimit = Math.min(this.maxPlainRun, 2 * regime.plainLimit);
      const far = (regime.valued || regime.farProbe === 'best') && best >= 0 ? best : regime.start;
      return this.pick(far, true);
    }
    if (this.featuresMissing()) return this.pickPlain(plainMs);
    // A candidates' regime enters drafting from a plain step as a probe would: its run is
    // accounted, and a narrow win waits until what the last run lost is paid for.
    if (!regime.valued && !this.lastDrafted) {
      if (entering < NARROW_WIN * leaving && this.owes(regime, plainRate)) {
        regime.plainRun++;
        return this.pickPlain(plainMs);
      }
      regime.plainRun = 0;
      regime.probing = true;
      regime.probeLoss = 0;
      return this.pick(best, false);
    }
    regime.plainRun = 0;
    // Drafted steps after a probe out of plain decoding stay its run until they have paid for it:
    // a run the generation's end or the rates cut short of that leaves the next run of plain
    // steps as long as after a lost probe.
    if (!(regime.probing && regime.probeLoss > 0)) {
      if (regime.probing) regime.lostProbes = 0;
      regime.probing = false;
      regime.probeLoss = 0;
      regime.plainLimit = 2 * this.probeEvery;
      regime.closeLimit = this.probeEvery;
    }
    if (!regime.valued && ++regime.sinceProbe >= this.probeEvery) {
      regime.sinceProbe = 0;
      // The first probe drafts the whole capacity, which prices every candidate at once; later
      // ones go one size up from the best.
      const up = regime.probedFull ? this.oneSizeUp(regime, best) : regime.full;
      regime.probedFull = true;
      if (up !== best) return this.pick(up, true);
    }
    return this.pick(best, false);
  }

  /**
   * Whether what the regime's last accounted run of drafted steps lost (a probe's, or a run a
   * candidates' regime entered) is more than its probe share of the plain steps since.
   */
  private owes(regime: Regime, plainRate: number): boolean {
    return regime.probeLoss * plainRate > regime.probeShare * regime.plainRun;
  }

  /**
   * Whether the start tree of a prefix regime cannot pay: committing its root and the top of its
   * accepted tokens' interval ({@link START_BOUND_ERRORS} standard errors above the mean, the
   * deviation at least {@link START_LEAST_DEVIATION}) at plain decoding's steady price takes
   * less time than its step costs. Its start steps would otherwise run to
   * {@link PREFIX_START_STEPS}: on the tiny model at temperature 1 on a Zen 5 machine, a sampled
   * one-token chain cost about 3.0 ms a step for 1.45 tokens against a 1.7–1.8 ms plain step, and
   * its 32 start steps lost about 15 ms of a one-shot 128-token generation (docs/benchmarks.md).
   */
  private startCannotPay(regime: Regime): boolean {
    const { count, sum, squares } = regime.startAccepted;
    if (count === 0) return false;
    const c = regime.start;
    const mean = sum / count;
    const deviation = Math.max(START_LEAST_DEVIATION, Math.sqrt(Math.max(0, squares / count - mean * mean)));
    const top = Math.min(this.depths[c], mean + (START_BOUND_ERRORS * deviation) / Math.sqrt(count));
    const stepMs = this.costs.stepMs(regime.draftMs(this.depths[c]), this.nodes[c] + 1);
    return (1 + top) * this.plainMs(regime) < stepMs;
  }

  /**
   * Counts a step that timed no steady drafting against a candidates' regime's draft prices
   * ({@link SizedCost.tick}), so that they go stale in steps. Trees sized by value price drafting
   * by the line through every depth's timings, which ages with no step count (on the replay,
   * ageing them lengthened the plain runs).
   */
  private tickDraft(regime: Regime): void {
    if (!regime.valued) regime.draft.tick();
  }

  /**
   * Whether a probe of candidate `c` should draft one more step to time steady drafting: its
   * depth has fewer than {@link TRUSTED} steady timings, or its price is stale (none within
   * {@link FRESH} steps) and the tree would beat plain decoding were drafting free. A sampling
   * generation that drafts seldom, one step after a run of plain steps at a time, times no steady
   * drafting otherwise, and its price would stay what it was when last timed, however long ago;
   * where even free drafting would not pay, the price cannot change the choice.
   */
  private draftPriceWanted(regime: Regime, c: number, plainMs: number): boolean {
    const depth = this.depths[c];
    if (regime.draft.observations(depth) < TRUSTED) return true;
    if (regime.draft.age(depth) <= FRESH) return false;
    const tokens = 1 + this.expectedAccepted(c);
    return tokens * plainMs > this.costs.stepMs(0, this.nodes[c] + 1);
  }

  /**
   * Whether any of the newest {@link AFTER_GAP_ROWS} steps skipped their features (a run of plain
   * steps far from its probe): a tree now would draft from too short a history, so the step stays
   * plain and fetches them. A run fetches the rows its probe catches up on as the probe nears; a
   * tree the rates favour before then (they rose past plain decoding's, or its probe came sooner)
   * catches up on the rows fetched since, its drafter starting again after the gap.
   */
  private featuresMissing(): boolean {
    return this.needsFeatures && this.featureRun < Math.min(AFTER_GAP_ROWS, this.probeCatchUp);
  }

  /**
   * For trees sized by value: the best candidate is the largest (each step's growth sizes its tree
   * within it), rated by the drafted steps' rate; none before a steady drafted step is timed. The
   * growth reads this step's prices.
   */
  private rateValue(regime: Regime): void {
    this.costs.verify.linePricesInto(this.verifyPrices);
    regime.draftPricesInto(this.draftPrices);
    const tokens = regime.draftingTokens;
    const ms = regime.draftingMs.mean;
    const known = tokens > 0 && ms > 0;
    regime.best = known ? regime.full : -1;
    regime.bestRate = known ? tokens / ms : 0;
    regime.bestMs = known ? ms : 0;
  }

  /** Sets the regime's best candidate and its predicted rate (tokens per ms). */
  private rateCandidates(regime: Regime): void {
    let best = -1;
    let bestRate = 0;
    let bestMs = 0;
    const overhead = this.costs.overheadMs();
    this.costs.verify.pricesInto(this.verifyPrices);
    regime.draftPricesInto(this.draftPrices);
    for (let c = 0; c < this.depths.length; c++) {
      if (this.depths[c] > regime.depthCap) continue;
      const accepted = this.expectedAccepted(c);
      if (Number.isNaN(accepted)) continue;
      // As `costs.stepMs`, from the tables.
      const ms = overhead + this.draftPrices[this.depths[c]] + this.verifyPrices[this.nodes[c] + 1];
      const rate = (1 + accepted) / ms;
      if (rate > bestRate) {
        best = c;
        bestRate = rate;
        bestMs = ms;
      }
    }
    regime.best = best;
    regime.bestRate = bestRate;
    regime.bestMs = bestMs;
  }

  /**
   * The best tree's rate as a way into drafting: a run of drafted steps pays once for its
   * drafter's catch-up (over the prompt at its first tree of a generation, priced by such trees at
   * a generation's first step; over the rows of the plain steps before it later) and for the
   * target's first plain step after it, spread here over the mean run, and at least `probeEvery`
   * steps (a run that a probe starts is short because the probe lost; spread over such runs, the
   * cost would keep every later run from starting), but over no more steps than the generation has
   * left: a short generation cannot pay for a dear first tree. Where speculation only just beats
   * plain decoding, as at temperature 1 on the tiny model, runs are short and a tree must win by
   * more; where runs and generations are long it changes next to nothing. After a drafted step:
   * the rate itself.
   */
  private enteringRate(regime: Regime): number {
    const readsPrompt = !this.drafterStarted;
    if (!(readsPrompt || this.afterPlain) || regime.best < 0) return regime.bestRate;
    const tokensPerStep = regime.bestRate * regime.bestMs;
    const stepsLeft = this.tokensLeft / tokensPerStep;
    const runs = Math.min(Math.max(this.probeEvery, regime.runLength.mean || 0), stepsLeft);
    return tokensPerStep / (regime.bestMs + this.switchingMs(regime, readsPrompt) / runs);
  }

  /**
   * What a run of the best tree costs beyond its steps: the drafter's catch-up on its first tree
   * (over the prompt when `readsPrompt`, else over the plain steps' rows), priced as that tree's
   * measured excess over its price, and the target's dearer first plain call after the run.
   */
  private switchingMs(regime: Regime, readsPrompt: boolean): number {
    const dearer = (readsPrompt ? regime.starting : regime.entering).mean;
    const catchUp = dearer > 1 ? (dearer - 1) * regime.bestMs : 0;
    return catchUp + this.costs.leavingMs();
  }

  /**
   * Plain decoding's rate as the way out of drafting, right after a drafted step: leaving costs
   * the target's first plain call after a tree, and coming back the drafter's catch-up, both
   * spread over the plain steps of a run that stays close to paying ({@link BudgetControllerOptions.probeEvery}),
   * as {@link BudgetController.enteringRate} spreads them over the way in. Where drafting and plain
   * steps are close, as with sampled chains at temperature 1 on the tiny model (drafting 9 % ahead),
   * the rates' noise otherwise sent it back and forth, paying both each time: it decoded plainly
   * on 40 % of the steps and ran 1.04–1.05× where drafting every step ran 1.09–1.11×. Otherwise,
   * and for trees sized by value (whose rate follows each step's confidence, and which on the
   * replay ran no faster for it), plain decoding's own rate.
   */
  private leavingPlainRate(regime: Regime, plainMs: number): number {
    if (!this.lastDrafted || regime.best < 0 || regime.valued) return 1 / plainMs;
    return 1 / (plainMs + this.switchingMs(regime, false) / this.probeEvery);
  }

  /**
   * A plain step's price against `regime`'s trees. Trees sized by value are priced step by step
   * along a line refitted to every drafted step, so they read the plain price as it is now; a
   * candidates' regime (sampled trees) times each candidate seldom, so it reads the steady price
   * ({@link StepCostModel.plainMs}): with the price of now, every burst of slow steps on a shared
   * machine made its trees look cheap (session 50: EAGLE-2 at temperature 1 on a Zen 5 machine
   * drafted a quarter of its steps, each 15 % below plain decoding's rate). Trees sized by value
   * read the steady price worse: greedy EAGLE-2 there then stayed plain on whole generations in
   * three runs of seven.
   */
  private plainMs(regime: Regime): number {
    return this.costs.plainMs(!regime.valued);
  }

  /** Picks a plain step, predicted to take `plainMs`. */
  private pickPlain(plainMs: number): number {
    this.pricedStep = false;
    this.lastChoice.depth = 0;
    this.lastChoice.nodes = 0;
    this.lastChoice.probe = false;
    this.predicted = 1;
    this.predictedMs = plainMs;
    return -1;
  }

  private pick(c: number, probe: boolean): number {
    const regime = this.active;
    this.lastChoice.depth = this.depths[c];
    this.lastChoice.nodes = this.nodes[c];
    this.lastChoice.probe = probe;
    this.pricedStep = regime.valued && regime.drafted >= regime.startSteps && c === regime.full;
    if (this.pricedStep) {
      // Until the growth has priced its tree (`propose`), the drafted steps' averages.
      this.predicted = regime.draftingTokens || 1;
      this.predictedMs = regime.draftingMs.mean || this.costs.stepMs(regime.draftMs(1), 2);
      return c;
    }
    const accepted = this.expectedAccepted(c);
    this.predicted = 1 + (Number.isNaN(accepted) ? 0 : accepted);
    this.predictedMs = this.costs.stepMs(regime.draftMs(this.depths[c]), this.nodes[c] + 1);
    return c;
  }

  /** The regime's candidate closest to `start`; used by the constructor. */
  private startCandidate(regime: Regime, start: { depth: number; nodes: number }): number {
    let best = regime.full;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let c = 0; c < this.depths.length; c++) {
      if (this.depths[c] > regime.depthCap) continue;
      const distance = Math.abs(this.depths[c] - start.depth) * 100 + Math.abs(this.nodes[c] - start.nodes);
      if (distance < bestDistance) {
        best = c;
        bestDistance = distance;
      }
    }
    return best;
  }

  /**
   * The regime's deepest candidate with the most nodes (candidates run by depth, then by nodes);
   * used once, by the constructor.
   */
  private largestCandidate(regime: Regime): number {
    let c = this.depths.length - 1;
    while (c > 0 && this.depths[c] > regime.depthCap) c--;
    return c;
  }

  /** The regime's candidate one depth deeper (within what it grows) with the next node count up. */
  private oneSizeUp(regime: Regime, c: number): number {
    const depth = Math.min(regime.depthCap, this.depths[c] + 1);
    let up = -1;
    for (let i = 0; i < this.depths.length; i++) {
      if (this.depths[i] !== depth || this.nodes[i] <= this.nodes[c]) continue;
      if (up < 0 || this.nodes[i] < this.nodes[up]) up = i;
    }
    return up < 0 ? c : up;
  }

  /**
   * For a regime whose caps keep known parts of its trees ({@link Regime.prefixCaps}): the drafted
   * tokens each candidate held by this step's tree is expected to have had accepted, its tree being
   * the drafted tree's nodes that its caps keep. The accepted path counts while its nodes are among
   * them: the verifier tries a node's children in the order they were drawn, and a cap keeps a
   * node's first draws, so a path that leaves them was one the smaller tree would have stopped
   * before. Where the verifier knows the chances of the chain of first draws
   * ({@link DraftOutcome.firstDraws}), each of those nodes counts as the chance of reaching it
   * (the ratios of the draws above it times its own overlap) instead of as whether the path did:
   * the same expectation, from far less noise. At temperature 1 on the tiny model a one-token
   * chain's accepted draws vary by ±0.5 a step about a mean near 0.45, and the moving average
   * crossed the break-even with plain decoding often enough to keep some generations plain.
   * Returns the drafted tree's own expected accepted tokens so counted, or NaN where the verifier
   * knew no chances.
   */
  private learnPrefixAcceptance(regime: Regime, outcome: DraftOutcome): number {
    const { tree, firstDraws } = outcome;
    const growth = regime.part.growth as Required<Pick<TreeGrowth, 'capKeeps' | 'capCovers'>>;
    const chain = this.firstDrawNodes;
    const reach = this.firstDrawReach;
    let known = 0;
    if (firstDraws !== undefined && firstDraws.count > 0) {
      let ancestors = 1;
      for (let child = tree.firstChild(0); child >= 0 && known < firstDraws.count; known++) {
        chain[known] = child;
        reach[known] = ancestors * firstDraws.overlaps[known];
        ancestors *= firstDraws.ratios[known];
        child = tree.firstChild(child);
      }
    }
    for (let c = 0; c < this.depths.length; c++) {
      const depth = this.depths[c];
      const nodes = this.nodes[c];
      if (!growth.capCovers(depth, nodes)) continue;
      const accepted = this.acceptedWithin(growth, outcome, known, depth, nodes);
      if (c === regime.start && regime.drafted < regime.startSteps) {
        const start = regime.startAccepted;
        start.count++;
        start.sum += accepted;
        start.squares += accepted * accepted;
      }
      const seen = ++regime.acceptedSeen[c];
      regime.accepted[c] += Math.max(DRAFTING_SMOOTHING, 1 / seen) * (accepted - regime.accepted[c]);
      regime.known[c] = 1;
    }
    if (known === 0) return Number.NaN;
    return this.acceptedWithin(growth, outcome, known, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
  }

  /**
   * The drafted tokens a tree capped at `depth` and `nodes` is expected to have had accepted of
   * this step's tree ({@link BudgetController.learnPrefixAcceptance}): the chances of reaching the
   * first `known` first draws it keeps, and the other nodes of the accepted path within it.
   */
  private acceptedWithin(
    growth: Required<Pick<TreeGrowth, 'capKeeps'>>,
    outcome: DraftOutcome,
    known: number,
    depth: number,
    nodes: number,
  ): number {
    const { path, pathLength } = outcome;
    const chain = this.firstDrawNodes;
    let accepted = 0;
    for (let j = 0; j < known && growth.capKeeps(chain[j], depth, nodes); j++)
      accepted += this.firstDrawReach[j];
    for (let k = 1; k < pathLength && growth.capKeeps(path[k], depth, nodes); k++) {
      if (!(k <= known && path[k] === chain[k - 1])) accepted++;
    }
    return accepted;
  }

  /**
   * From a verified tree drafted with the current caps, the mass per depth that each candidate
   * within those caps would have drafted: its `nodes` best nodes (by cumulative score) no deeper
   * than its `depth` — what a growth capped so keeps.
   */
  private learnMasses(regime: Regime, tree: DraftTree): void {
    const count = tree.size - 1;
    const order = this.order;
    const probability = this.probability;
    for (let i = 0; i < count; i++) {
      const node = i + 1;
      probability[node] = Math.exp(tree.scores[node]);
      let pos = i;
      while (pos > 0 && tree.scores[order[pos - 1]] < tree.scores[node]) {
        order[pos] = order[pos - 1];
        pos--;
      }
      order[pos] = node;
    }
    const capDepth = this.lastChoice.depth;
    const capNodes = this.lastChoice.nodes;
    const stride = this.maxDepth + 1;
    const mass = this.scratch;
    for (let c = 0; c < this.depths.length; c++) {
      const depth = this.depths[c];
      const nodes = this.nodes[c];
      if (depth > capDepth || nodes > capNodes) continue;
      mass.fill(0);
      let taken = 0;
      for (let i = 0; i < count && taken < nodes; i++) {
        const node = order[i];
        const d = tree.depths[node];
        if (d > depth) continue;
        mass[d] += probability[node];
        taken++;
      }
      const base = c * stride;
      const first = regime.known[c] === 0;
      for (let d = 1; d <= depth; d++) {
        regime.mass[base + d] = first
          ? mass[d]
          : regime.mass[base + d] + this.smoothing * (mass[d] - regime.mass[base + d]);
      }
      regime.known[c] = 1;
    }
  }
}

/** A measured ratio, or 1 before it is measured. */
function ratioOr1(ratio: number): number {
  return Number.isNaN(ratio) ? 1 : ratio;
}

/** A start tree option: a depth and a node count, both positive integers. */
function requireTree(name: string, tree: { depth: number; nodes: number }): { depth: number; nodes: number } {
  return {
    depth: requireInteger(`${name}.depth`, tree.depth, 1),
    nodes: requireInteger(`${name}.nodes`, tree.nodes, 1),
  };
}
