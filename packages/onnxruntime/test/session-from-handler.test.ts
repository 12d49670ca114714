import * as common from 'onnxruntime-common';
import { describe, expect, it } from 'vitest';
import { sessionFromHandler } from '../src/session-from-handler.js';

/** A handler that doubles its float32 input `x` into output `y`, and records what it was asked. */
function doublingHandler() {
  const calls: { fetches: string[]; options: common.InferenceSession.RunOptions }[] = [];
  let disposed = 0;
  const metadata = (name: string): common.InferenceSession.ValueMetadata => ({
    name,
    isTensor: true,
    type: 'float32',
    shape: [2],
  });
  const handler: common.InferenceSessionHandler = {
    inputNames: ['x'],
    outputNames: ['y'],
    inputMetadata: [metadata('x')],
    outputMetadata: [metadata('y')],
    async run(feeds, fetches, options) {
      calls.push({ fetches: Object.keys(fetches), options });
      const x = feeds.x as common.Tensor;
      return {
        y: new common.Tensor(
          'float32',
          Float32Array.from(x.data as Float32Array, (v) => 2 * v),
          x.dims,
        ),
      };
    },
    async dispose() {
      disposed++;
    },
    startProfiling() {},
    endProfiling() {},
  };
  return { handler, calls, disposed: () => disposed };
}

describe('sessionFromHandler', () => {
  it("builds onnxruntime-common's own InferenceSession over the handler, without its backend registry", async () => {
    const { handler, calls, disposed } = doublingHandler();
    const session = sessionFromHandler(common.InferenceSession, handler);
    expect(session).toBeInstanceOf(common.InferenceSession);
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputMetadata[0]).toMatchObject({ name: 'y', type: 'float32', shape: [2] });

    const out = await session.run(
      { x: new common.Tensor('float32', Float32Array.of(1.5, -3), [2]) },
      { tag: 'a' },
    );
    expect(out.y).toBeInstanceOf(common.Tensor);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([3, -6]);
    expect(calls).toEqual([{ fetches: ['y'], options: { tag: 'a' } }]);

    await session.release();
    expect(disposed()).toBe(1);
  });

  it("keeps onnxruntime-common's argument checks: a missing input is refused before the handler runs", async () => {
    const { handler, calls } = doublingHandler();
    const session = sessionFromHandler(common.InferenceSession, handler);
    await expect(session.run({})).rejects.toThrow("input 'x' is missing in 'feeds'.");
    await expect(session.run({ x: new common.Tensor('float32', [1, 2], [2]) }, ['z'])).rejects.toThrow(
      "'fetches' contains invalid output name: z.",
    );
    expect(calls).toEqual([]);
  });
});
