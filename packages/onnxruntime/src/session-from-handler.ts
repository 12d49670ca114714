import type { InferenceSession, InferenceSessionFactory, InferenceSessionHandler } from 'onnxruntime-common';

/**
 * onnxruntime-common's `InferenceSession` class as its implementation defines it: constructed
 * from a session handler. The public type declares only the static `create`, which resolves a
 * backend through onnxruntime-common's process-global registry and then builds the session with
 * `new InferenceSession(handler)` (lib/inference-session-impl.ts of onnxruntime-common 1.30.0).
 * That constructor is internal to onnxruntime-common, neither typed nor documented; this package
 * pins onnxruntime-common at 1.30.0, and `session-from-handler.test.ts` runs a session built this way.
 */
type InferenceSessionFromHandler = new (handler: InferenceSessionHandler) => InferenceSession;

/**
 * Wraps `handler` in `sessionClass` (an onnxruntime-common `InferenceSession`) the way
 * `InferenceSession.create` does, without asking the backend registry which backend opens it:
 * the session argument checks, output wrapping and `release` are onnxruntime-common's own.
 */
export function sessionFromHandler(
  sessionClass: InferenceSessionFactory,
  handler: InferenceSessionHandler,
): InferenceSession {
  return new (sessionClass as unknown as InferenceSessionFromHandler)(handler);
}
