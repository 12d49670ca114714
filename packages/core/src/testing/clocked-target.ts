import type { DraftTree } from '../draft-tree.js';
import type { KeepPlan } from '../keep-plan.js';
import type { TargetCallOptions, TargetModel, TargetStep } from '../target-model.js';

/** A fake clock in milliseconds that clocked fakes advance by what their work would cost. */
export class Clock {
  now = 0;
  readonly read = (): number => this.now;
}

/** What a {@link ClockedTarget}'s verifications cost. */
export interface VerifyCosts {
  /** Milliseconds of a verification of a tree of `treeSize` nodes. */
  verify: (treeSize: number) => number;
  /**
   * Extra ms of the first verification after a draft call (as in the browser page, where the
   * target's first call after the head's costs several plain calls). Default 0.
   */
  afterDraft?: number;
}

/**
 * A target whose verifications advance a {@link Clock} by their modelled cost, so that timing-driven
 * choices (a budget controller's) can be tested deterministically over any target, a toy or a real
 * model. Everything else is the inner target's.
 */
export class ClockedTarget<T extends TargetModel = TargetModel, C extends VerifyCosts = VerifyCosts>
  implements TargetModel
{
  /** Whether a draft call came after the last verification (set by whoever drafts). */
  drafted = false;

  constructor(
    readonly inner: T,
    readonly clock: Clock,
    public costs: C,
  ) {}
  get vocabSize(): number {
    return this.inner.vocabSize;
  }
  get featureSize(): number {
    return this.inner.featureSize;
  }
  get maxContext(): number {
    return this.inner.maxContext;
  }
  get cachedLength(): number {
    return this.inner.cachedLength;
  }
  get maxTreeSize(): number | undefined {
    return this.inner.maxTreeSize;
  }
  get greedyTokens(): boolean | undefined {
    return this.inner.greedyTokens;
  }
  get sampledTokens(): boolean | undefined {
    return this.inner.sampledTokens;
  }
  reset(): void {
    this.inner.reset();
  }
  prefill(tokens: Int32Array, options?: TargetCallOptions): Promise<TargetStep> {
    return this.inner.prefill(tokens, options);
  }
  verify(tree: DraftTree, options?: TargetCallOptions): Promise<TargetStep> {
    this.clock.now += this.costs.verify(tree.size) + (this.drafted ? (this.costs.afterDraft ?? 0) : 0);
    this.drafted = false;
    return this.inner.verify(tree, options);
  }
  commit(plan: KeepPlan): void {
    this.inner.commit(plan);
  }
}
