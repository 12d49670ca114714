import type { Env, InferenceSession, Tensor } from 'onnxruntime-common';

/** One input or output of a loaded model as the native binding describes it. */
export interface NativeValueMetadata {
  name: string;
  isTensor: boolean;
  /** ONNX `TensorProto.DataType` number (1 float, 7 int64, …). */
  type: number;
  /** Fixed dimensions, -1 where `symbolicDimensions` names the dimension. */
  shape: number[];
  symbolicDimensions: string[];
}

/** A session of the native binding: loads one model, runs it synchronously. */
export interface NativeSession {
  loadModel(path: string, options: InferenceSession.SessionOptions): void;
  loadModel(
    buffer: ArrayBufferLike,
    byteOffset: number,
    byteLength: number,
    options: InferenceSession.SessionOptions,
  ): void;
  readonly inputMetadata: NativeValueMetadata[];
  readonly outputMetadata: NativeValueMetadata[];
  run(
    feeds: Record<string, unknown>,
    fetches: Record<string, unknown>,
    options: InferenceSession.RunOptions,
  ): Record<string, Tensor>;
  endProfiling(): void;
  dispose(): void;
}

/**
 * The exports of ONNX Runtime's `onnxruntime_binding.node` (napi v6), the interface
 * onnxruntime-node's own JavaScript drives.
 */
export interface NativeBinding {
  /**
   * Creates ONNX Runtime's environment once per process: `logLevel` 0 (verbose) to 4 (fatal),
   * `tensorClass` the constructor of the tensors it returns, `isMainThread` from worker_threads.
   */
  initOrtOnce(logLevel: number, tensorClass: typeof Tensor, isMainThread: boolean): void;
  InferenceSession: new () => NativeSession;
  /** The execution providers compiled in (`bundled`) or loadable as provider libraries. */
  listSupportedBackends(): { name: string; bundled: boolean }[];
}

/** ONNX `TensorProto.DataType` numbers → onnxruntime-common's tensor type names. */
const TENSOR_TYPES: Readonly<Record<number, Tensor.Type>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  21: 'uint4',
  22: 'int4',
};

/**
 * The binding's description of a model's value as onnxruntime-common's metadata.
 * @throws Error when the binding reports a tensor type or dimension onnxruntime-common has no name for.
 */
export function valueMetadata(raw: NativeValueMetadata): InferenceSession.ValueMetadata {
  if (!raw.isTensor) return { name: raw.name, isTensor: false };
  const type = TENSOR_TYPES[raw.type];
  if (type === undefined)
    throw new Error(
      `model value "${raw.name}" has ONNX data type ${raw.type}, which onnxruntime-common cannot name`,
    );
  const shape = raw.shape.map((dim, i) => {
    if (dim === -1) return raw.symbolicDimensions[i]!;
    if (dim >= 0) return dim;
    throw new Error(`model value "${raw.name}" has dimension ${dim} at axis ${i}`);
  });
  return { name: raw.name, isTensor: true, type, shape };
}

/** onnxruntime-common's log level names → the binding's severity numbers. */
export const LOG_SEVERITY: Readonly<Record<NonNullable<Env['logLevel']>, number>> = {
  verbose: 0,
  info: 1,
  warning: 2,
  error: 3,
  fatal: 4,
};
