import type * as OrtWeb from 'onnxruntime-web';

/** Which model a logged call ran: the target, or a drafter's model (EAGLE head, draft LM). */
export type CallModel = 'target' | 'drafter';

/**
 * Model calls in the order they ran, as plain arrays (they cross the worker boundary): call `i`
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
 */
export function loggedSession(
  session: OrtWeb.InferenceSession,
  model: CallModel,
  inputIds: string,
  log: CallLog,
  clock: () => number = () => performance.now(),
): OrtWeb.InferenceSession {
  const view = Object.create(session) as OrtWeb.InferenceSession;
  const run = session.run.bind(session) as (
    feeds: OrtWeb.InferenceSession.FeedsType,
    ...rest: unknown[]
  ) => Promise<OrtWeb.InferenceSession.ReturnType>;
  view.run = (async (feeds: OrtWeb.InferenceSession.FeedsType, ...rest: unknown[]) => {
    const t0 = clock();
    const out = await run(feeds, ...rest);
    log.record(model, feeds[inputIds]?.dims[1] ?? 0, clock() - t0);
    return out;
  }) as OrtWeb.InferenceSession['run'];
  return view;
}
