import {
  ContractError,
  type ControllerStats,
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  type DraftTree,
  OptionError,
  requireInteger,
  requireNumber,
} from '@treespec/core';
import { AcceptanceEstimates, MATCH_CLASSES, matchClass } from './acceptance-estimates.js';
import { FeatureBacklog } from './feature-backlog.js';
import { GENERATION_KINDS, generationKind } from './generation-kind.js';
import type { MatchingDrafter } from './matching-drafter.js';
import { ModelFreeTrees } from './model-free-trees.js';
import { StepTimes } from './step-times.js';

/**
 * How a {@link HybridDrafter} picks each step's tree:
 * - `match`: a model-free tree whenever its match is at least `minMatch` tokens (the longest
 *   match wins), else the model's — SAM-Decoding's rule;
 * - `expected`: the drafter with the most accepted tokens expected in this step's situation (the
 *   longest model-free match, in classes 0, 1, 2–3, 4–7, 8–15, 16+), learnt online; ties go to
 *   the model-free drafter, which costs nothing to run;
 * - `throughput`: the tree with the most tokens expected per second — (1 + expected accepted)
 *   over its predicted step time. A model-free tree is also weighed cut to each of its depths
 *   (its first level, its first two, …), whole or as its first path alone (each node's
 *   best-ranked child), and the root alone (a plain step) competes too: what each level adds in
 *   accepted tokens is learnt per depth, and what verifying it costs is measured by tree size, so
 *   where extra nodes cost more than they return (sampling from flat distributions, a provider
 *   whose rows are dear) the trees shrink, down to plain decoding. The model drafter's
 *   step (drafting and verification) is timed from `propose` to `observe`. Adapts to what drafting
 *   costs on the machine at hand; its choices (never its output) then depend on timing.
 *
 * Under the learning policies (`expected`, `throughput`) the model drafter still drafts once after
 * 64 steps of a match class without it, so its estimates there follow changes; each such retry
 * that loses to what it displaced (a lower rate, or fewer accepted tokens) doubles the wait in
 * that class, up to 1024 steps, and one that wins, or the model chosen on its merits, resets it.
 */
export type HybridPolicy = (typeof HYBRID_POLICIES)[number];

/** Every {@link HybridPolicy}. */
export const HYBRID_POLICIES = ['match', 'expected', 'throughput'] as const;

/** Steps in a row that a match class may go without the model drafter under a learning policy, at first. */
const RETRY_MODEL_AFTER = 64;

/** The longest wait, in steps of a match class, between retries of a model drafter that keeps losing. */
const RETRY_MODEL_AFTER_MAX = 1024;

/**
 * The most committed rows the model drafter catches up on when it drafts after sitting steps out:
 * beyond them it forgets its context and reads the newest ones ({@link Drafter.catchUpWithin}). After a run of
 * model-free trees that commit four or five tokens a step, the rows of 64 steps cost it more than
 * the target's step.
 */
const CATCH_UP_ROWS = 16;

/**
 * What a {@link HybridDrafter} learns of its model drafter in one kind of generation (greedy, or
 * sampling within one band of temperatures, {@link generationKind}): accepted tokens and step
 * times per match class, and when to retry it.
 */
class ModelDrafterRecord {
  readonly accepted: AcceptanceEstimates;
  readonly times: StepTimes;
  /** Per match class, steps since the model drafter last drafted there. */
  readonly sinceModel = new Uint32Array(MATCH_CLASSES);
  /** Per match class, the steps without the model drafter after which it is retried. */
  readonly retryAfter = new Uint32Array(MATCH_CLASSES).fill(RETRY_MODEL_AFTER);

  constructor(smoothing: number) {
    this.accepted = new AcceptanceEstimates([Number.POSITIVE_INFINITY], smoothing);
    this.times = new StepTimes(1, smoothing);
  }
}

/** Options of {@link HybridDrafter}. */
export interface HybridDrafterOptions {
  /** Default `throughput`. */
  policy?: HybridPolicy;
  /** For `match`: the shortest match that makes the model-free tree win. Default 3. */
  minMatch?: number;
  /**
   * For `expected` and `throughput`: weight of a new observation in the running estimates of
   * accepted tokens and step times, in (0, 1]. Default 0.1.
   */
  smoothing?: number;
}

/**
 * Combines a model drafter (EAGLE-2, a draft LM: any {@link Drafter}) with model-free drafters
 * (lookup, suffix automata), choosing one tree per step. The model-free drafters propose first —
 * they take microseconds — and the model drafter runs only on steps it is chosen for.
 *
 * Learning: after each verification every model-free tree, verified or not, is replayed against
 * the tokens the target committed ({@link ModelFreeTrees}); what the replay decides updates how
 * deep that drafter's trees get accepted, so its estimates improve every step, whichever tree was
 * verified. The model drafter's estimate is updated on the steps it drafts; it reads as unbounded
 * until its first observation in a match class, so it gets tried in each. Under stochastic
 * verification replays are approximate (the target's tokens were sampled), which only affects the
 * choice, never the output. Greedy generations and each band of sampling temperatures learn apart
 * ({@link generationKind}: a copied or drafted token is accepted less often when the target
 * samples, the less the hotter), so a process serving several, or a temperature-1 generation after
 * greedy or temperature-0.3 ones, prices each kind by its own record.
 *
 * Keeping a feature drafter in sync: the loop shows each target feature row once. On steps the
 * model drafter sits out, its rows are held ({@link FeatureBacklog}) and handed over, with the new
 * ones, the next time it drafts — its head then commits them in one batched call. A drafter with
 * its own KV cache catches up from `context.tokens` as it always does.
 */
export class HybridDrafter implements Drafter {
  readonly name = 'hybrid';
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  readonly primary: Drafter;
  readonly modelFree: readonly MatchingDrafter[];
  readonly policy: HybridPolicy;
  readonly minMatch: number;
  /**
   * Drafter of the latest tree: 0 the model drafter, i + 1 `modelFree[i]`, `modelFree.length + 1`
   * a plain step (root alone); -1 before any.
   */
  lastChoice = -1;
  /**
   * What it learnt of the model drafter in each kind of generation ({@link generationKind}: a
   * sampled draft is accepted less often, the less the hotter), and the current generation's.
   */
  private readonly modelByKind: ModelDrafterRecord[];
  private model: ModelDrafterRecord;
  /** The model-free drafters' trees, their cuts, and the step times of plain steps and model-free trees. */
  private readonly trees: ModelFreeTrees;
  private readonly picks: Uint32Array;
  private readonly backlog = new FeatureBacklog();
  private stepClass = 0;
  private stepStart = 0;
  /**
   * On a retry of the model drafter, what the choice it displaced was worth: its tokens per ms
   * (`throughput`) or accepted tokens expected (`expected`); NaN on other steps.
   */
  private displaced = Number.NaN;
  /** The value of the tree {@link HybridDrafter.bestModelFree} found. */
  private bestModelFreeValue = Number.NEGATIVE_INFINITY;
  /** Whether the model drafter sat out steps of this generation since it last drafted. */
  private modelSatOut = false;
  /** The `lastChoice` of a plain step. */
  private readonly plain: number;

  constructor(primary: Drafter, modelFree: readonly MatchingDrafter[], options: HybridDrafterOptions = {}) {
    if (modelFree.length === 0) {
      throw new OptionError('modelFree', modelFree, 'at least one model-free drafter');
    }
    const policy = options.policy ?? 'throughput';
    if (policy !== 'match' && policy !== 'expected' && policy !== 'throughput') {
      throw new OptionError('policy', policy, '"match", "expected" or "throughput"');
    }
    this.policy = policy;
    this.minMatch = requireInteger('minMatch', options.minMatch ?? 3, 1);
    const smoothing = requireNumber('smoothing', options.smoothing ?? 0.1, {
      min: 0,
      max: 1,
      minExclusive: true,
    });
    this.primary = primary;
    this.modelFree = modelFree;
    this.needsFeatures = primary.needsFeatures;
    this.maxTreeSize = Math.max(primary.maxTreeSize, ...modelFree.map((d) => d.maxTreeSize));
    this.trees = new ModelFreeTrees(modelFree, smoothing, this.maxTreeSize);
    this.modelByKind = Array.from({ length: GENERATION_KINDS }, () => new ModelDrafterRecord(smoothing));
    this.model = this.modelByKind[0];
    this.plain = modelFree.length + 1;
    this.picks = new Uint32Array(modelFree.length + 2);
  }

  /**
   * Steps drafted by each part since construction: index 0 the model drafter, i + 1
   * `modelFree[i]`, the last index plain steps.
   */
  get steps(): readonly number[] {
    return Array.from(this.picks);
  }

  /**
   * Steps of a match class at a match length that the model drafter now sits out before a retry,
   * in the current kind of generation ({@link generationKind}).
   */
  retryAfterSteps(matchLength: number): number {
    return this.model.retryAfter[matchClass(matchLength)];
  }

  /**
   * The current estimate of accepted tokens per step for part `d` (as in `steps`) at a match
   * length, in the current kind of generation ({@link generationKind}): for a model-free drafter, of a
   * whole tree as deep as its token budget allows (a chain of `maxTreeSize - 1` tokens).
   */
  expectedAccepted(d: number, matchLength: number): number {
    if (d === 0) return this.model.accepted.estimate(0, matchClass(matchLength));
    return this.trees.expectedAt(d - 1, matchLength, this.modelFree[d - 1].maxTreeSize - 1);
  }

  /**
   * The mean measured step time (ms, drafting and verification) of the model drafter at a match
   * length, in the current kind of generation; NaN before any.
   */
  modelStepMs(matchLength: number): number {
    return this.model.times.of(0, matchClass(matchLength));
  }

  /** The predicted time (ms) of a step that verifies a model-free tree of `nodes` nodes (1: a plain step); NaN before any. */
  treeStepMs(nodes: number): number {
    return this.trees.stepMs(nodes);
  }

  /**
   * Resets every part for a new sequence; the learnt estimates are kept (they describe the
   * drafters), apart for each kind of generation ({@link generationKind}).
   */
  reset(seed?: number, temperature?: number): void {
    this.primary.reset(seed, temperature);
    const kind = generationKind(seed, temperature);
    this.trees.reset(kind);
    this.model = this.modelByKind[kind];
    this.backlog.clear();
    this.modelSatOut = false;
    this.lastChoice = -1;
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    this.stepStart = performance.now();
    this.stepClass = matchClass(await this.trees.propose(context));
    const c = this.stepClass;
    const retry = this.policy !== 'match' && this.model.sinceModel[c]++ >= this.model.retryAfter[c];
    const choice = retry ? 0 : this.policy === 'throughput' ? this.byThroughput() : this.byMatch();
    this.displaced = retry ? this.displacedValue() : Number.NaN;
    if (choice === 0) {
      this.model.sinceModel[c] = 0;
      if (!retry) this.model.retryAfter[c] = RETRY_MODEL_AFTER;
      if (this.modelSatOut) this.primary.catchUpWithin?.(CATCH_UP_ROWS);
      this.modelSatOut = false;
      await this.primary.propose(this.primary.needsFeatures ? this.backlog.release(context) : context, tree);
    } else {
      this.modelSatOut = true;
      if (this.primary.needsFeatures) this.backlog.hold(context);
      if (choice === this.plain) tree.reset(context.tokens[context.length - 1]);
      else if (this.policy !== 'throughput') tree.copyFrom(this.trees.treeOf(choice - 1));
      else this.trees.copyCut(tree);
    }
    this.lastChoice = choice;
    this.picks[choice]++;
  }

  observe(outcome: DraftOutcome): void {
    const choice = this.lastChoice;
    if (choice < 0) throw new ContractError('observe() needs a propose() first');
    const ms = performance.now() - this.stepStart;
    if (choice === 0) {
      const accepted = outcome.pathLength - 1;
      this.model.times.record(0, this.stepClass, ms);
      this.model.accepted.record(0, this.stepClass, accepted);
      if (!Number.isNaN(this.displaced)) {
        const value = this.policy === 'throughput' ? (1 + accepted) / ms : accepted;
        const c = this.stepClass;
        this.model.retryAfter[c] =
          value >= this.displaced
            ? RETRY_MODEL_AFTER
            : Math.min(2 * this.model.retryAfter[c], RETRY_MODEL_AFTER_MAX);
      }
      this.primary.observe?.(outcome);
    } else {
      this.trees.recordStep(outcome.tree.size, ms);
    }
    this.trees.learn(outcome, choice - 1);
  }

  /** The model drafter's budget controller statistics, when it has a controller. */
  controllerStats(): ControllerStats | null {
    return this.primary.controllerStats?.() ?? null;
  }

  async dispose(): Promise<void> {
    await this.primary.dispose?.();
    await this.trees.dispose();
  }

  /**
   * `match` and `expected`: the model-free drafter that ranks first (longest match, or most
   * accepted tokens expected of its whole tree) when it beats the model drafter, else the model.
   */
  private byMatch(): number {
    const best = this.bestModelFree();
    if (best < 0) return 0;
    const wins =
      this.policy === 'match'
        ? this.bestModelFreeValue >= this.minMatch
        : this.bestModelFreeValue >= this.model.accepted.estimate(0, this.stepClass);
    return wins ? best + 1 : 0;
  }

  /**
   * `match` and `expected`: the model-free drafter whose tree ranks first (longest match, or most
   * accepted tokens expected of its whole tree), -1 when none matched; its value goes to
   * `bestModelFreeValue`.
   */
  private bestModelFree(): number {
    let best = -1;
    this.bestModelFreeValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.modelFree.length; i++) {
      if (this.trees.treeOf(i).size <= 1) continue;
      const value = this.policy === 'match' ? this.modelFree[i].matchLength : this.trees.wholeTreeExpected(i);
      if (value > this.bestModelFreeValue) {
        best = i;
        this.bestModelFreeValue = value;
      }
    }
    return best;
  }

  /**
   * On a retry of the model drafter, what the choice it displaces is worth: under `throughput` the
   * best rate of a model-free cut or a plain step, under `expected` the most accepted tokens
   * expected of a model-free tree (0 when none matched).
   */
  private displacedValue(): number {
    if (this.policy === 'throughput') {
      const cut = this.trees.bestCut();
      const plainRate = 1 / this.trees.plainMs();
      return Math.max(cut.drafter >= 0 ? cut.rate : 0, Number.isNaN(plainRate) ? 0 : plainRate);
    }
    return this.bestModelFree() < 0 ? 0 : this.bestModelFreeValue;
  }

  /**
   * `throughput`: the part whose step is expected to commit the most tokens per millisecond: the
   * model drafter until it is timed in this match class, then a plain step until one is timed;
   * afterwards the model drafter, a model-free tree at its best cut (tried whole while no tree has
   * been timed) or a plain step, whichever rates highest. Ties go to the model-free drafters, which
   * cost nothing to run, and to plain steps before them.
   */
  private byThroughput(): number {
    const modelMs = this.model.times.of(0, this.stepClass);
    if (Number.isNaN(modelMs)) return 0;
    const modelExpected = this.model.accepted.estimate(0, this.stepClass);
    const modelRate = (1 + modelExpected) / modelMs;
    const cut = this.trees.bestCut();
    const treeWins = cut.drafter >= 0 && cut.rate >= modelRate;
    const plainMs = this.trees.plainMs();
    if (Number.isNaN(plainMs)) return this.plain;
    const plainRate = 1 / plainMs;
    if (treeWins) return plainRate >= cut.rate ? this.plain : cut.drafter + 1;
    return plainRate >= modelRate ? this.plain : 0;
  }
}
