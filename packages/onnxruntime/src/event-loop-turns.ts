/**
 * How long a chain of model calls may hold the event loop before the next call waits for a turn
 * of it. A frame at 60 Hz: a server's sockets, an abort or a timer wait at most this long (plus
 * one call), while a decoding step's three to six calls mostly run back to back.
 */
export const MAX_HOLD_MS = 16;

/**
 * Tells whether a synchronous native call may run in the caller's turn of the event loop, or
 * should wait for the next turn. Each turn of the loop costs the calls around it: on the 2-vCPU
 * reference machine an ONNX Runtime call after a turn ran 0.02–0.03 ms slower than one right after
 * another, and the turn cost as much again (docs/benchmarks.md, "Model calls back to back"). A call
 * may run at once while the loop has turned within `maxHoldMs`; a marker queued behind the loop's
 * other work notes each turn.
 */
export class EventLoopTurns {
  private lastTurn = Number.NEGATIVE_INFINITY;
  private markerQueued = false;
  private readonly maxHoldMs: number;
  private readonly clock: () => number;
  private readonly queue: (callback: () => void) => void;

  /**
   * @param maxHoldMs the longest the loop may go without a turn before a call waits for one
   * @param clock milliseconds, monotonic (default `performance.now`)
   * @param queue runs a callback on the loop's next turn (default `setImmediate`)
   */
  constructor(
    maxHoldMs: number = MAX_HOLD_MS,
    clock: () => number = () => performance.now(),
    queue: (callback: () => void) => void = (callback) => void setImmediate(callback),
  ) {
    this.maxHoldMs = maxHoldMs;
    this.clock = clock;
    this.queue = queue;
  }

  /** Whether a call may run now; false when the loop has not turned within `maxHoldMs`. */
  mayRunNow(): boolean {
    if (!this.markerQueued) {
      this.markerQueued = true;
      this.queue(this.noteTurn);
    }
    return this.clock() - this.lastTurn < this.maxHoldMs;
  }

  private readonly noteTurn = (): void => {
    this.markerQueued = false;
    this.lastTurn = this.clock();
  };
}
