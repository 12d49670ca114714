import { describe, expect, it } from 'vitest';
import { unusedTensorsWarning } from './convert.js';

describe('the warning about checkpoint tensors a conversion left out', () => {
  it('names up to eight of them and counts the rest', () => {
    expect(unusedTensorsWarning(['model.layers.0.self_attn.q_norm.weight'])).toBe(
      "warning: the config does not use 1 of the checkpoint's tensors, so the model leaves them out: " +
        "model.layers.0.self_attn.q_norm.weight. Check that the config's architecture is the checkpoint's.\n",
    );
    const names = Array.from({ length: 11 }, (_, i) => `t${i}`);
    expect(unusedTensorsWarning(names)).toContain('11 of the checkpoint');
    expect(unusedTensorsWarning(names)).toContain('t0, t1, t2, t3, t4, t5, t6, t7 and 3 more.');
  });
});
