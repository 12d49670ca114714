import { ContractError, type DraftContext } from '@treespec/core';
import { grownCapacity } from './buffers.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Target features that a feature drafter (EAGLE) has not been shown yet because another drafter
 * drafted those steps. The decoding loop shows each feature row once; rows held here are shown
 * later together with the newer ones, as one contiguous block, so the drafter's committed state
 * catches up in a single batched call instead of one draft per step.
 */
export class FeatureBacklog {
  private rows = new Float32Array(0);
  private start = 0;
  private count = 0;
  private readonly view: Mutable<DraftContext> = {
    tokens: new Int32Array(0),
    length: 0,
    promptLength: 0,
    features: null,
    featureStart: 0,
    featureRows: 0,
    featureSize: 0,
    room: 0,
    maxDepth: 0,
  };

  /** Rows held. */
  get heldRows(): number {
    return this.count;
  }

  /** Forgets the held rows. */
  clear(): void {
    this.count = 0;
  }

  /** Keeps the context's feature rows for later. */
  hold(context: DraftContext): void {
    if (context.featureRows === 0 || !context.features) return;
    const size = context.featureSize;
    if (this.count === 0) this.start = context.featureStart;
    else if (context.featureStart !== this.start + this.count) {
      throw new ContractError(
        `feature rows start at position ${context.featureStart}; expected ${this.start + this.count}, after the held ones`,
      );
    }
    const needed = (this.count + context.featureRows) * size;
    if (needed > this.rows.length) {
      const next = new Float32Array(grownCapacity(this.rows.length, needed));
      next.set(this.rows.subarray(0, this.count * size));
      this.rows = next;
    }
    this.rows.set(context.features.subarray(0, context.featureRows * size), this.count * size);
    this.count += context.featureRows;
  }

  /**
   * The context with the held rows in front of its own (the context itself when none are held).
   * The held rows are then considered shown; the returned view is valid until the next call.
   */
  release(context: DraftContext): DraftContext {
    if (this.count === 0) return context;
    this.hold(context);
    const view = this.view;
    view.tokens = context.tokens;
    view.length = context.length;
    view.promptLength = context.promptLength;
    view.features = this.rows;
    view.featureStart = this.start;
    view.featureRows = this.count;
    view.featureSize = context.featureSize;
    view.room = context.room;
    view.maxDepth = context.maxDepth;
    view.signal = context.signal;
    this.count = 0;
    return view;
  }
}
