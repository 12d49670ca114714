import { join } from 'node:path';
import { loadedOnnxRuntime } from '@treespec/onnxruntime';
import * as common from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

// Its own test file, so its own process: onnxruntime-web's Node build registers its WASM backend
// with onnxruntime-common as 'cpu' and 'wasm' before treespec opens anything, as in a server that
// renders pages with onnxruntime-web and runs treespec beside it.
await import('onnxruntime-web');

describe('sessions after onnxruntime-web registered its WASM backend as "cpu"', () => {
  it("leave onnxruntime-common's 'cpu' to onnxruntime-web, which cannot open the target's external data", async () => {
    await expect(
      common.InferenceSession.create(join(TINY, 'target.onnx'), { executionProviders: ['cpu'] }),
    ).rejects.toThrow(/MountedFiles/);
  });

  it('open the tiny target on the bundled native runtime, with its inputs and outputs', async () => {
    const session = await createSession(join(TINY, 'target.onnx'));
    try {
      expect(session).toBeInstanceOf(common.InferenceSession);
      expect(session.inputNames).toContain('input_ids');
      expect(session.outputNames).toContain('logits');
      expect(loadedOnnxRuntime()?.source).toBe('bundled');
    } finally {
      await session.release();
    }
  });

  it('continue the reference prompts as PyTorch greedy decoding did', async () => {
    const generator = await loadTreespec(TINY);
    try {
      for (const c of targetCases().slice(0, 2)) {
        const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
        expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
      }
    } finally {
      await generator.dispose();
    }
  });
});
