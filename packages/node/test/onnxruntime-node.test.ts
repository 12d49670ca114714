import { loadedOnnxRuntime } from '@treespec/onnxruntime';
import { describe, expect, it } from 'vitest';
import { loadTreespec } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

// Its own test file, so its own process: a process holds one ONNX Runtime.
describe("an application's own onnxruntime-node (the way to CUDA), chosen with onnxRuntime", () => {
  it('runs the tiny bundle on it and continues the reference prompts as PyTorch greedy decoding did', async () => {
    const generator = await loadTreespec(TINY, { onnxRuntime: 'onnxruntime-node' });
    try {
      expect(loadedOnnxRuntime()).toMatchObject({
        source: 'onnxruntime-node',
        packageName: 'onnxruntime-node',
      });
      for (const c of targetCases().slice(0, 2)) {
        const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
        expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
      }
    } finally {
      await generator.dispose();
    }
  });
});
