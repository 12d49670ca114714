import { DraftTree, type StepEvent } from '@treespec/core';

/**
 * A copy of the last step a worker did not post (the decoder reuses its step objects), so that the
 * generation's last tree can still be sent when it ends. Buffers grow to the largest tree seen and
 * are reused.
 */
export class LatestStep {
  private tree: DraftTree | null = null;
  private path = new Int32Array(0);
  private readonly event: { -readonly [K in keyof StepEvent]: StepEvent[K] } = {
    step: 0,
    tree: new DraftTree(1),
    path: this.path,
    pathLength: 0,
    bonusToken: 0,
  };
  /** Whether a step is held that has not been taken. */
  held = false;

  /** Copies `event`, replacing any step held. */
  keep(event: StepEvent): void {
    if (!this.tree || this.tree.capacity < event.tree.capacity)
      this.tree = new DraftTree(event.tree.capacity);
    this.tree.copyFrom(event.tree);
    if (this.path.length < event.pathLength) this.path = new Int32Array(event.tree.capacity);
    this.path.set(event.path.subarray(0, event.pathLength));
    const e = this.event;
    e.step = event.step;
    e.tree = this.tree;
    e.path = this.path;
    e.pathLength = event.pathLength;
    e.bonusToken = event.bonusToken;
    this.held = true;
  }

  /** The step held (valid until the next `keep`), and forgets it. */
  take(): StepEvent {
    this.held = false;
    return this.event;
  }
}
