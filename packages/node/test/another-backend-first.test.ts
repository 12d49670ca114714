import { join } from 'node:path';
import * as common from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { createSession, loadTreespec } from '../src/index.js';
import { TINY, targetCases } from './tiny.js';

// Its own test file, so its own process: another backend holds 'cpu' at the priority the bundled
// runtime registers with (as another onnxruntime-node in the process would), before treespec loads.
const standIn: common.Backend = {
  init: async () => {},
  createInferenceSessionHandler: () => Promise.reject(new Error('the stand-in backend opened a session')),
};
common.registerBackend('cpu', standIn, 100);

describe("sessions after another backend registered 'cpu' at the same priority", () => {
  it('open on the bundled native runtime instead of failing to register it', async () => {
    await expect(common.InferenceSession.create(join(TINY, 'target.onnx'))).rejects.toThrow(/stand-in/);
    const session = await createSession(join(TINY, 'target.onnx'));
    expect(session.outputNames).toContain('logits');
    await session.release();
  });

  it('continue a reference prompt as PyTorch greedy decoding did', async () => {
    const generator = await loadTreespec(TINY);
    try {
      const c = targetCases()[0]!;
      const r = await generator.generate(c.prompt, { maxTokens: c.greedy_ids.length });
      expect(Array.from(r.tokens)).toEqual(c.greedy_ids);
    } finally {
      await generator.dispose();
    }
  });
});
