import * as common from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { loadedOnnxRuntime, loadOnnxRuntime, OnnxRuntimeUnavailableError } from '../src/index.js';

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('loadOnnxRuntime on linux-x64', () => {
  it("loads the bundled binding once, into this module's onnxruntime-common", () => {
    expect(loadedOnnxRuntime()).toBeUndefined();
    const runtime = loadOnnxRuntime();
    expect(runtime.source).toBe('bundled');
    expect(runtime.packageName).toBe('@treespec/onnxruntime-linux-x64');
    expect(runtime.InferenceSession).toBe(common.InferenceSession);
    expect(runtime.Tensor).toBe(common.Tensor);
    expect(runtime.env).toBe(common.env);
    expect(loadOnnxRuntime('bundled')).toBe(runtime);
    expect(loadedOnnxRuntime()).toBe(runtime);
  });

  it('refuses a second runtime in the same process, with a typed error that says how to choose', () => {
    loadOnnxRuntime();
    let caught: unknown;
    try {
      loadOnnxRuntime('onnxruntime-node');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(OnnxRuntimeUnavailableError);
    expect(caught).toMatchObject({
      code: 'RUNTIME_UNAVAILABLE',
      source: 'onnxruntime-node',
      platform: 'linux-x64',
    });
    expect(String((caught as Error).message)).toMatch(
      /already runs ONNX Runtime from @treespec\/onnxruntime-linux-x64.*choose 'onnxruntime-node' before the first session/,
    );
  });
});
