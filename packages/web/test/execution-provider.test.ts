import { OptionError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import {
  chooseExecutionProvider,
  ProviderUnavailableError,
  wasmThreads,
  webGpuUnavailableReason,
} from '../src/internal.js';

const withAdapter = { gpu: { requestAdapter: async () => ({ name: 'adapter' }) } };
const noAdapter = { gpu: { requestAdapter: async () => null } };
const throwing = {
  gpu: {
    requestAdapter: async () => {
      throw new Error('GPU process crashed');
    },
  },
};

describe('execution provider choice', () => {
  it('prefers WebGPU when the browser offers an adapter', async () => {
    expect(await chooseExecutionProvider('auto', withAdapter)).toEqual({
      provider: 'webgpu',
      fallbackReason: null,
    });
  });

  it('falls back to WASM with a reason a user can read when WebGPU is missing or has no adapter', async () => {
    expect(await chooseExecutionProvider('auto', {})).toEqual({
      provider: 'wasm',
      fallbackReason: 'this browser has no WebGPU (navigator.gpu is missing)',
    });
    expect((await chooseExecutionProvider('auto', noAdapter)).fallbackReason).toBe(
      'this browser offers no WebGPU adapter (requestAdapter() returned null)',
    );
    expect(await webGpuUnavailableReason(throwing)).toBe(
      'requesting a WebGPU adapter failed: GPU process crashed',
    );
  });

  it('takes WASM as asked, and WebGPU as asked only where an adapter exists', async () => {
    expect(await chooseExecutionProvider('wasm', withAdapter)).toEqual({
      provider: 'wasm',
      fallbackReason: null,
    });
    expect(await chooseExecutionProvider('webgpu', withAdapter)).toEqual({
      provider: 'webgpu',
      fallbackReason: null,
    });
    const error = await chooseExecutionProvider('webgpu', noAdapter).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'webgpu' });
  });
});

describe('wasmThreads', () => {
  it('uses one thread unless the page is cross-origin isolated, and says why', () => {
    const plain = wasmThreads(undefined, {
      crossOriginIsolated: false,
      navigator: { hardwareConcurrency: 8 },
    });
    expect(plain.threads).toBe(1);
    expect(plain.limitedBecause).toContain('not cross-origin isolated');
    expect(plain.limitedBecause).toContain('Cross-Origin-Embedder-Policy: require-corp');
  });

  it('uses the logical cores, at most 4, when isolated', () => {
    expect(
      wasmThreads(undefined, { crossOriginIsolated: true, navigator: { hardwareConcurrency: 2 } }),
    ).toEqual({
      threads: 2,
      limitedBecause: null,
    });
    expect(
      wasmThreads(undefined, { crossOriginIsolated: true, navigator: { hardwareConcurrency: 16 } }).threads,
    ).toBe(4);
    expect(wasmThreads(6, { crossOriginIsolated: true }).threads).toBe(6);
    expect(wasmThreads(1, { crossOriginIsolated: false })).toEqual({ threads: 1, limitedBecause: null });
  });

  it('rejects a thread count that is not a positive integer', () => {
    expect(() => wasmThreads(0, { crossOriginIsolated: true })).toThrow(OptionError);
    expect(() => wasmThreads(1.5, { crossOriginIsolated: true })).toThrow(
      'option "numThreads" must be an integer in [1, 64]; got 1.5',
    );
  });
});
