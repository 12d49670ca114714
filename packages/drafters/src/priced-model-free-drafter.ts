import {
  type DraftContext,
  type Drafter,
  type DraftOutcome,
  type DraftTree,
  requireNumber,
} from '@treespec/core';
import { generationKind } from './generation-kind.js';
import type { MatchingDrafter } from './matching-drafter.js';
import { ModelFreeTrees } from './model-free-trees.js';

/** Options of {@link PricedModelFreeDrafter}. */
export interface PricedModelFreeDrafterOptions {
  /** Weight of a new observation in the running estimates of accepted depths and step times, in (0, 1]. Default 0.1. */
  smoothing?: number;
}

/**
 * A model-free drafter (prompt lookup, a suffix automaton) run alone under the prices of this
 * machine: each step its tree is cut where the tokens it is expected to commit per millisecond
 * peak — at a depth, whole or as its first path — or dropped for a plain step (the root alone),
 * as the {@link HybridDrafter} cuts its model-free trees ({@link ModelFreeTrees}). Where the target
 * seldom continues what it copies (sampling at temperature 1) or tree rows cost more than they
 * return (WebAssembly), it then decodes plainly instead of slower than plainly. Only the choice
 * depends on timing, never the output: every tree is the drafter's own, cut.
 */
export class PricedModelFreeDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures = false;
  readonly maxTreeSize: number;
  readonly drafter: MatchingDrafter;
  private readonly trees: ModelFreeTrees;
  private stepStart = 0;

  constructor(drafter: MatchingDrafter, options: PricedModelFreeDrafterOptions = {}) {
    const smoothing = requireNumber('smoothing', options.smoothing ?? 0.1, {
      min: 0,
      max: 1,
      minExclusive: true,
    });
    this.name = drafter.name;
    this.drafter = drafter;
    this.maxTreeSize = drafter.maxTreeSize;
    this.trees = new ModelFreeTrees([drafter], smoothing);
  }

  /** The predicted time (ms) of a step that verifies a tree of `nodes` nodes (1: a plain step); NaN before any. */
  stepMs(nodes: number): number {
    return this.trees.stepMs(nodes);
  }

  /** Resets the drafter for a new sequence; each kind of generation learns apart ({@link generationKind}). */
  reset(seed?: number, temperature?: number): void {
    this.trees.reset(generationKind(seed, temperature));
  }

  /**
   * The drafter's tree at its best cut; a plain step while a plain step has not been timed (after
   * the first tree, taken whole) or where one is expected to commit more per millisecond.
   */
  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    this.stepStart = performance.now();
    await this.trees.propose(context);
    const cut = this.trees.bestCut();
    const plainMs = this.trees.plainMs();
    const plain = cut.drafter < 0 || (cut.rate !== Number.POSITIVE_INFINITY && !(cut.rate > 1 / plainMs));
    if (plain) tree.reset(context.tokens[context.length - 1]);
    else this.trees.copyCut(tree);
  }

  observe(outcome: DraftOutcome): void {
    this.trees.recordStep(outcome.tree.size, performance.now() - this.stepStart);
    // A drafted tree has a node beyond the root; a plain step verified the root alone.
    this.trees.learn(outcome, outcome.tree.size > 1 ? 0 : -1);
  }

  async dispose(): Promise<void> {
    await this.trees.dispose();
  }
}
