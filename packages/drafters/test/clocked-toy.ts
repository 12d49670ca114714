import type {
  DraftContext,
  Drafter,
  DraftOutcome,
  DraftTree,
  TargetCallOptions,
  TargetModel,
} from '@treespec/core';
import type { ToyTarget } from '@treespec/core/testing';
import type { CountingGrowth } from './helpers.js';

/** A fake clock in milliseconds that the toy target and drafter advance by what their work would cost. */
export class Clock {
  now = 0;
  readonly read = (): number => this.now;
}

/** Costs of the clocked toy: verification by tree size, drafting by draft calls (depths + 1). */
export interface ToyCosts {
  verify: (treeSize: number) => number;
  draftCall: number;
  /**
   * Extra ms of the first verification after a draft call (as in the browser page, where the
   * target's first call after the head's costs several plain calls). Default 0.
   */
  afterDraft?: number;
}

/** A toy target whose verifications advance a {@link Clock} by their modelled cost. */
export class ClockedTarget implements TargetModel {
  constructor(
    readonly inner: ToyTarget,
    readonly clock: Clock,
    public costs: ToyCosts,
  ) {}
  /** Whether a draft call came after the last verification. */
  drafted = false;
  get vocabSize() {
    return this.inner.vocabSize;
  }
  get featureSize() {
    return this.inner.featureSize;
  }
  get maxContext() {
    return this.inner.maxContext;
  }
  get cachedLength() {
    return this.inner.cachedLength;
  }
  reset() {
    this.inner.reset();
  }
  prefill(tokens: Int32Array, options?: TargetCallOptions) {
    return this.inner.prefill(tokens, options);
  }
  verify(tree: DraftTree, options?: TargetCallOptions) {
    this.clock.now += this.costs.verify(tree.size) + (this.drafted ? (this.costs.afterDraft ?? 0) : 0);
    this.drafted = false;
    return this.inner.verify(tree, options);
  }
  commit(plan: Parameters<TargetModel['commit']>[0]) {
    this.inner.commit(plan);
  }
}

/**
 * A drafter whose proposals advance a {@link Clock} by one draft call per depth of the kept tree,
 * plus one to commit; or, given the {@link CountingGrowth} it drafts with, by one call per depth
 * it expanded, as a model drafter makes them (the first call also commits).
 */
export class ClockedDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  constructor(
    public inner: Drafter,
    readonly target: ClockedTarget,
    readonly counted?: CountingGrowth,
  ) {
    this.name = inner.name;
    this.needsFeatures = inner.needsFeatures;
    this.maxTreeSize = inner.maxTreeSize;
  }
  reset(seed?: number) {
    this.inner.reset(seed);
  }
  async propose(context: DraftContext, tree: DraftTree) {
    const before = this.counted?.expansions ?? 0;
    await this.inner.propose(context, tree);
    const calls = this.counted ? this.counted.expansions - before : tree.maxDepth() + 1;
    this.target.clock.now += this.target.costs.draftCall * calls;
    if (calls > 0) this.target.drafted = true;
  }
  observe(outcome: DraftOutcome) {
    this.inner.observe?.(outcome);
  }
  catchUpWithin(rows: number) {
    this.inner.catchUpWithin?.(rows);
  }
}
