import {
  ContractError,
  type ControllerStats,
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  DraftTree,
  OptionError,
  requireInteger,
  requireNumber,
} from '@treespec/core';
import { AcceptanceEstimates, MATCH_CLASSES, matchClass } from './acceptance-estimates.js';
import { FeatureBacklog } from './feature-backlog.js';
import type { MatchingDrafter } from './matching-drafter.js';
import { committedTokens, replayAccepted } from './replay-acceptance.js';
import { StepTimes } from './step-times.js';

/**
 * How a {@link HybridDrafter} picks each step's tree:
 * - `match`: a model-free tree whenever its match is at least `minMatch` tokens (the longest
 *   match wins), else the model's — SAM-Decoding's rule;
 * - `expected`: the drafter with the most accepted tokens expected in this step's situation (the
 *   longest model-free match, in classes 0, 1, 2–3, 4–7, 8–15, 16+), learnt online; ties go to
 *   the model-free drafter, which costs nothing to run;
 * - `throughput`: the drafter with the most tokens expected per second — (1 + expected accepted)
 *   over its measured step time (drafting and verification, timed from `propose` to `observe`);
 *   as `expected` until the model drafter has been timed, and each model-free drafter is tried
 *   once to time it. A plain step (the root alone: one token, no drafting) competes too, once
 *   the best tree is expected to gain less than one token per step; so when no drafter pays (e.g.
 *   sampling from flat distributions) the hybrid decodes about as fast as plain decoding. Adapts to
 *   what drafting costs on the machine at hand; its choices (never its output) then depend on
 *   timing.
 *
 * Under the learning policies (`expected`, `throughput`) the model drafter still drafts once after
 * every 64 steps of a match class without it, so its estimates there follow changes.
 */
export type HybridPolicy = 'match' | 'expected' | 'throughput';

/** Steps in a row that a match class may go without the model drafter under a learning policy. */
const RETRY_MODEL_AFTER = 64;

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
 * Learning: after each verification the model-free trees that were not verified are replayed
 * against the tokens the target committed (see {@link replayAccepted}): a replay that ends before
 * those tokens do is what greedy verification would have accepted, one that uses them all is a
 * lower bound (censored, see {@link AcceptanceEstimates}). So their estimates improve every step,
 * whichever tree was verified. The model drafter's estimate is updated on the steps it drafts; it
 * reads as unbounded until its first observation in a match class, so it gets tried in each. Under
 * stochastic verification replays are approximate (the target's tokens were sampled), which only
 * affects the choice, never the output.
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
  private readonly estimates: AcceptanceEstimates;
  private readonly times: StepTimes;
  private readonly picks: Uint32Array;
  private readonly scratch: DraftTree[];
  private readonly backlog = new FeatureBacklog();
  private readonly committed: Int32Array;
  private stepClass = 0;
  private stepStart = 0;
  /** Per match class, steps since the model drafter last drafted there. */
  private readonly sinceModel = new Uint32Array(MATCH_CLASSES);
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
    this.scratch = modelFree.map((d) => new DraftTree(d.maxTreeSize));
    this.estimates = new AcceptanceEstimates(
      [Number.POSITIVE_INFINITY, ...modelFree.map(() => 0)],
      smoothing,
    );
    this.plain = modelFree.length + 1;
    this.times = new StepTimes(modelFree.length + 2, smoothing);
    this.picks = new Uint32Array(modelFree.length + 2);
    this.committed = new Int32Array(this.maxTreeSize + 1);
  }

  /**
   * Steps drafted by each part since construction: index 0 the model drafter, i + 1
   * `modelFree[i]`, the last index plain steps.
   */
  get steps(): readonly number[] {
    return Array.from(this.picks);
  }

  /** The current estimate of accepted tokens per step for part `d` (as in `steps`) at a match length. */
  expectedAccepted(d: number, matchLength: number): number {
    return this.estimates.estimate(d, matchClass(matchLength));
  }

  /**
   * The mean measured step time (ms, drafting and verification) with part `d`'s trees at a match
   * length (the longest model-free match for the model drafter, its own for the others); NaN
   * before any.
   */
  meanStepMs(d: number, matchLength: number): number {
    return this.times.of(d, matchClass(matchLength));
  }

  /** Resets every part for a new sequence; the learnt estimates are kept (they describe the drafters). */
  reset(seed?: number): void {
    this.primary.reset(seed);
    for (const d of this.modelFree) d.reset();
    this.backlog.clear();
    this.lastChoice = -1;
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    this.stepStart = performance.now();
    let longest = 0;
    for (let i = 0; i < this.modelFree.length; i++) {
      const scratch = this.scratch[i];
      scratch.reset(context.tokens[context.length - 1]);
      const pending = this.modelFree[i].propose(context, scratch);
      if (pending) await pending;
      longest = Math.max(longest, this.modelFree[i].matchLength);
    }
    this.stepClass = matchClass(longest);
    const best = this.bestModelFree();
    const retry = this.policy !== 'match' && this.sinceModel[this.stepClass]++ >= RETRY_MODEL_AFTER;
    const drafted = best >= 0 && !retry && this.prefersModelFree(best) ? best + 1 : 0;
    const choice = !retry && this.prefersPlainTo(drafted) ? this.plain : drafted;
    if (choice === 0) {
      this.sinceModel[this.stepClass] = 0;
      await this.primary.propose(this.primary.needsFeatures ? this.backlog.release(context) : context, tree);
    } else {
      if (this.primary.needsFeatures) this.backlog.hold(context);
      if (choice === this.plain) tree.reset(context.tokens[context.length - 1]);
      else tree.copyFrom(this.scratch[best]);
    }
    this.lastChoice = choice;
    this.picks[choice]++;
  }

  observe(outcome: DraftOutcome): void {
    const choice = this.lastChoice;
    if (choice < 0) throw new ContractError('observe() needs a propose() first');
    const ms = performance.now() - this.stepStart;
    this.times.record(choice, this.classOf(choice), ms);
    const count = committedTokens(outcome, this.committed);
    const stepClass = this.stepClass;
    if (choice === 0) {
      this.estimates.record(0, stepClass, outcome.pathLength - 1);
      this.primary.observe?.(outcome);
    }
    for (let i = 0; i < this.modelFree.length; i++) {
      const own = this.ownClass(i);
      if (choice === i + 1) {
        this.estimates.record(i + 1, own, outcome.pathLength - 1);
        this.modelFree[i].observe?.(outcome);
      } else {
        const replayed = replayAccepted(this.scratch[i], this.committed, count);
        this.estimates.record(i + 1, own, replayed, replayed === count);
      }
    }
  }

  /** The model drafter's budget controller statistics, when it has a controller. */
  controllerStats(): ControllerStats | null {
    return this.primary.controllerStats?.() ?? null;
  }

  async dispose(): Promise<void> {
    await this.primary.dispose?.();
    for (const d of this.modelFree) await d.dispose?.();
  }

  /**
   * The model-free drafter that the policy ranks first, or -1. Under `throughput` its tree may be
   * the root alone (no match): a plain decoding step, which beats a model drafter that costs more
   * time than its tokens save.
   */
  private bestModelFree(): number {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.modelFree.length; i++) {
      if (this.policy !== 'throughput' && this.scratch[i].size <= 1) continue;
      const value = this.policy === 'match' ? this.modelFree[i].matchLength : this.ownEstimate(i);
      if (value > bestValue) {
        best = i;
        bestValue = value;
      }
    }
    return best;
  }

  private prefersModelFree(i: number): boolean {
    if (this.policy === 'match') return this.modelFree[i].matchLength >= this.minMatch;
    const own = this.ownEstimate(i);
    const model = this.estimates.estimate(0, this.stepClass);
    const ownTime = this.times.of(i + 1, this.ownClass(i));
    const modelTime = this.times.of(0, this.stepClass);
    if (this.policy === 'expected' || Number.isNaN(modelTime)) return own >= model;
    // Untimed, a model-free tree gets one step to measure it: it costs no drafting to try.
    if (Number.isNaN(ownTime)) return true;
    return (1 + own) * modelTime >= (1 + model) * ownTime;
  }

  /**
   * Under `throughput`, whether a plain step is expected to commit more tokens per second than the
   * tree of part `d`. It is considered only when that tree is expected to gain less than one
   * token, and tried once, to time it, the first time that happens.
   */
  private prefersPlainTo(d: number): boolean {
    if (this.policy !== 'throughput') return false;
    const expected = this.estimates.estimate(d, this.classOf(d));
    if (!(expected < 1)) return false;
    const plainTime = this.times.of(this.plain, 0);
    if (Number.isNaN(plainTime)) return true;
    const time = this.times.of(d, this.classOf(d));
    return !Number.isNaN(time) && (1 + expected) * plainTime < time;
  }

  /** The class step times and estimates of part `d` are kept under for this step. */
  private classOf(d: number): number {
    if (d === 0) return this.stepClass;
    return d === this.plain ? 0 : this.ownClass(d - 1);
  }

  private ownEstimate(i: number): number {
    return this.estimates.estimate(i + 1, this.ownClass(i));
  }

  private ownClass(i: number): number {
    return matchClass(this.modelFree[i].matchLength);
  }
}
