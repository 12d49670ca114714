import type { InferenceSession } from 'onnxruntime-common';

/** Which model a logged call ran: the target, or a drafter's model (EAGLE head, draft LM). */
export type CallModel = 'target' | 'drafter';

/**
 * Model calls in the order they ran, as plain arrays (they cross a worker boundary): call `i`
 * ran `model[i]` on `rows[i]` new rows and took `ms[i]` milliseconds.
 */
export interface ModelCalls {
  model: CallModel[];
  rows: number[];
  ms: number[];
}

const INITIAL_CAPACITY = 256;

/**
 * Every model call's rows and duration, kept in typed arrays that grow by doubling, so a call
 * records without allocating. What a speculative generation's time goes to, call by call: a
 * single-row target call beside a plain run's, a drafted tree's verification, a head catching up
 * on the rows of plain steps.
 */
export class CallLog {
  private drafter = new Uint8Array(INITIAL_CAPACITY);
  private rows = new Int32Array(INITIAL_CAPACITY);
  private ms = new Float64Array(INITIAL_CAPACITY);
  private count = 0;

  /** Calls logged since the last reset. */
  get size(): number {
    return this.count;
  }

  record(model: CallModel, rows: number, ms: number): void {
    if (this.count === this.ms.length) this.grow();
    this.drafter[this.count] = model === 'drafter' ? 1 : 0;
    this.rows[this.count] = rows;
    this.ms[this.count] = ms;
    this.count++;
  }

  /** Forgets the calls logged so far (e.g. when a generation starts). */
  reset(): void {
    this.count = 0;
  }

  /** Appends the calls logged since the last reset to `into`, e.g. to gather several generations' calls. */
  appendTo(into: ModelCalls): void {
    for (let i = 0; i < this.count; i++) {
      into.model.push(this.drafter[i] ? 'drafter' : 'target');
      into.rows.push(this.rows[i] as number);
      into.ms.push(this.ms[i] as number);
    }
  }

  /** The calls logged since the last reset. */
  toJSON(): ModelCalls {
    const n = this.count;
    return {
      model: Array.from(this.drafter.subarray(0, n), (d): CallModel => (d ? 'drafter' : 'target')),
      rows: Array.from(this.rows.subarray(0, n)),
      ms: Array.from(this.ms.subarray(0, n)),
    };
  }

  private grow(): void {
    const capacity = this.ms.length * 2;
    const drafter = new Uint8Array(capacity);
    const rows = new Int32Array(capacity);
    const ms = new Float64Array(capacity);
    drafter.set(this.drafter);
    rows.set(this.rows);
    ms.set(this.ms);
    this.drafter = drafter;
    this.rows = rows;
    this.ms = ms;
  }
}

/**
 * A view of a session whose `run` logs the call in `log`: its rows (the second dimension of the
 * `inputIds` feed) and how long ONNX Runtime took, from the call until its outputs were back.
 * Any onnxruntime package's session fits (onnxruntime-node, onnxruntime-web).
 */
export function loggedSession<S extends InferenceSession>(
  session: S,
  model: CallModel,
  inputIds: string,
  log: CallLog,
  clock: () => number = () => performance.now(),
): S {
  const view = Object.create(session) as S;
  const run = session.run.bind(session) as (
    feeds: InferenceSession.FeedsType,
    ...rest: unknown[]
  ) => Promise<InferenceSession.ReturnType>;
  view.run = (async (feeds: InferenceSession.FeedsType, ...rest: unknown[]) => {
    const t0 = clock();
    const out = await run(feeds, ...rest);
    log.record(model, feeds[inputIds]?.dims[1] ?? 0, clock() - t0);
    return out;
  }) as S['run'];
  return view;
}

/** Calls of one kind: how many, their mean rows, and their median and mean milliseconds. */
export interface CallGroup {
  calls: number;
  meanRows: number;
  medianMs: number;
  meanMs: number;
}

/**
 * A call log in groups that show what bounds a speculative step: the target's calls by rows (one
 * row: a plain step; more: a tree's verification or a prefill), and the drafter's calls by what
 * ran just before — right after a target call, whose weights have just streamed through the
 * caches, or right after another drafter call.
 */
export interface CallSummary {
  /** Target calls keyed by their rows. */
  targetByRows: Record<number, CallGroup>;
  drafterAfterTarget: CallGroup;
  drafterAfterDrafter: CallGroup;
}

/** Groups a call log's calls as {@link CallSummary} describes. */
export function summarizeCalls(calls: ModelCalls): CallSummary {
  const target = new Map<number, number[]>();
  const afterTarget: number[] = [];
  const afterDrafter: number[] = [];
  let afterTargetRows = 0;
  let afterDrafterRows = 0;
  for (let i = 0; i < calls.ms.length; i++) {
    const ms = calls.ms[i] as number;
    const rows = calls.rows[i] as number;
    if (calls.model[i] === 'target') {
      const group = target.get(rows);
      if (group) group.push(ms);
      else target.set(rows, [ms]);
    } else if (calls.model[i - 1] === 'drafter') {
      afterDrafter.push(ms);
      afterDrafterRows += rows;
    } else {
      afterTarget.push(ms);
      afterTargetRows += rows;
    }
  }
  const targetByRows: Record<number, CallGroup> = {};
  for (const rows of [...target.keys()].sort((a, b) => a - b)) {
    const ms = target.get(rows) as number[];
    targetByRows[rows] = callGroup(ms, rows * ms.length);
  }
  return {
    targetByRows,
    drafterAfterTarget: callGroup(afterTarget, afterTargetRows),
    drafterAfterDrafter: callGroup(afterDrafter, afterDrafterRows),
  };
}

function callGroup(ms: number[], rows: number): CallGroup {
  const n = ms.length;
  if (n === 0) return { calls: 0, meanRows: 0, medianMs: 0, meanMs: 0 };
  const sorted = ms.slice().sort((a, b) => a - b);
  const mid = n >> 1;
  const median =
    n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { calls: n, meanRows: rows / n, medianMs: median, meanMs: ms.reduce((a, b) => a + b, 0) / n };
}
