import { isMainThread } from 'node:worker_threads';
import type {
  Backend,
  Env,
  InferenceSession,
  InferenceSessionHandler,
  SessionHandler,
  Tensor,
} from 'onnxruntime-common';
import { EventLoopTurns } from './event-loop-turns.js';
import { LOG_SEVERITY, type NativeBinding, type NativeSession, valueMetadata } from './native-binding.js';

/** Runs `work` on a later turn of the event loop, so a synchronous native call does not block the caller's turn. */
function later<T>(work: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(work());
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** The process's event loop as every session's calls see it (a worker thread has its own). */
const turns = new EventLoopTurns();

/**
 * One loaded model: onnxruntime-common's session handler over a native session. A call runs at
 * once while the event loop has turned recently ({@link EventLoopTurns}), else on its next turn.
 */
class NativeSessionHandler implements InferenceSessionHandler {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly InferenceSession.ValueMetadata[];
  private readonly session: NativeSession;

  constructor(session: NativeSession) {
    this.session = session;
    this.inputMetadata = session.inputMetadata.map(valueMetadata);
    this.outputMetadata = session.outputMetadata.map(valueMetadata);
    this.inputNames = this.inputMetadata.map((m) => m.name);
    this.outputNames = this.outputMetadata.map((m) => m.name);
  }

  run(
    feeds: SessionHandler.FeedsType,
    fetches: SessionHandler.FetchesType,
    options: InferenceSession.RunOptions,
  ): Promise<SessionHandler.ReturnType> {
    const work = () => this.session.run(feeds, fetches, options);
    // The executor turns a throw into a rejection, as `later` does.
    return turns.mayRunNow() ? new Promise((resolve) => resolve(work())) : later(work);
  }

  async dispose(): Promise<void> {
    this.session.dispose();
  }

  /** Profiling starts with the session when `enableProfiling` is set; nothing to do here. */
  startProfiling(): void {}

  endProfiling(): void {
    this.session.endProfiling();
  }
}

/**
 * onnxruntime-common's backend over ONNX Runtime's native Node binding. The binding's environment
 * is created on the first session, with `env.logLevel` as it is then and `tensorClass` as the
 * class of every tensor the binding returns: the class the caller's onnxruntime-common exports,
 * so that outputs and preallocated fetches are of the one class its `InferenceSession` accepts.
 */
export class NativeBackend implements Backend {
  private readonly binding: NativeBinding;
  private readonly env: Env;
  private readonly tensorClass: typeof Tensor;
  private initialized = false;

  constructor(binding: NativeBinding, env: Env, tensorClass: typeof Tensor) {
    this.binding = binding;
    this.env = env;
    this.tensorClass = tensorClass;
  }

  async init(): Promise<void> {}

  createInferenceSessionHandler(
    pathOrBuffer: string | Uint8Array,
    options: InferenceSession.SessionOptions = {},
  ): Promise<InferenceSessionHandler> {
    return later(() => {
      this.initializeOnce();
      const session = new this.binding.InferenceSession();
      if (typeof pathOrBuffer === 'string') session.loadModel(pathOrBuffer, options);
      else session.loadModel(pathOrBuffer.buffer, pathOrBuffer.byteOffset, pathOrBuffer.byteLength, options);
      return new NativeSessionHandler(session);
    });
  }

  private initializeOnce(): void {
    if (this.initialized) return;
    this.binding.initOrtOnce(LOG_SEVERITY[this.env.logLevel ?? 'warning'], this.tensorClass, isMainThread);
    this.initialized = true;
  }
}
