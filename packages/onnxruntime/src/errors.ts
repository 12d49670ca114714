import { TreespecError } from '@treespec/core';
import type { OnnxRuntimeSource } from './load-onnx-runtime.js';

/**
 * ONNX Runtime cannot be loaded from the source asked for: no binary package for this platform,
 * the package not installed, onnxruntime-node not installed, or the process already runs ONNX
 * Runtime from the other source. The message says which and what to install.
 */
export class OnnxRuntimeUnavailableError extends TreespecError {
  /** The source that was asked for. */
  readonly source: OnnxRuntimeSource;
  /** `<process.platform>-<process.arch>` of this process, e.g. `linux-x64`. */
  readonly platform: string;

  constructor(source: OnnxRuntimeSource, platform: string, reason: string, options?: { cause?: unknown }) {
    super(
      'RUNTIME_UNAVAILABLE',
      `ONNX Runtime (${source}) cannot be loaded on ${platform}: ${reason}`,
      options,
    );
    this.name = 'OnnxRuntimeUnavailableError';
    this.source = source;
    this.platform = platform;
  }
}
