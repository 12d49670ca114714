import { ProviderSupportError } from '@treespec/core';
import type { Manifest, ManifestModel } from '@treespec/onnx';
import { describe, expect, it } from 'vitest';
import { KV_CACHE_LOCATION, kvCacheLocation, PROVIDER_SUPPORT, plan } from '../src/index.js';
import { tinyManifest } from './tiny.js';

/** The tiny manifest with its models changed by `edit` (by id). */
async function withModels(edit: (m: ManifestModel) => Partial<ManifestModel> | null): Promise<Manifest> {
  const manifest = await tinyManifest();
  return { ...manifest, models: manifest.models.map((m) => ({ ...m, ...edit(m) })) };
}

const FUSED: Partial<ManifestModel> = {
  attention: 'fused',
  kvCache: {
    layout: 'bnsh',
    layers: 8,
    kvHeads: 2,
    headDim: 64,
    dtype: 'float32',
    keysRotated: true,
    present: 'shared',
  },
};

function thrown(run: () => unknown): ProviderSupportError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderSupportError);
    return error as ProviderSupportError;
  }
  throw new Error('expected a ProviderSupportError');
}

describe('which provider runs which model (PROVIDER_SUPPORT)', () => {
  it('runs plain attention with float32 activations everywhere, the fallback every message offers', () => {
    for (const support of Object.values(PROVIDER_SUPPORT)) expect(support.plain).toContain('float32');
  });

  it('leaves a device it does not know to the host, which names its own providers', async () => {
    const manifest = await withModels((m) => (m.id === 'target' ? FUSED : null));
    expect(plan(manifest, {}, 'tpu' as never).target.id).toBe('target');
  });

  it('plans a fused-attention float32 target on cpu and wasm, and refuses it on webgpu', async () => {
    const manifest = await withModels((m) => (m.id === 'target' ? FUSED : null));
    for (const device of ['cpu', 'wasm'] as const)
      expect(plan(manifest, {}, device).target.attention).toBe('fused');
    expect(thrown(() => plan(manifest, {}, 'webgpu')).fallback).toBe(
      'convert it with `--attention plain` (the default), which runs on every provider, or run it on "cpu" or "wasm"',
    );
  });

  it('plans an in-place-attention float32 target on cpu and wasm, keeps its cache on the host, and refuses it on GPU providers', async () => {
    const inPlace: Partial<ManifestModel> = {
      attention: 'in-place',
      kvCache: { ...FUSED.kvCache!, present: 'new-only' },
    };
    const manifest = await withModels((m) => (m.id === 'target' ? inPlace : null));
    for (const device of ['cpu', 'wasm'] as const) {
      const target = plan(manifest, {}, device).target;
      expect(target.attention).toBe('in-place');
      expect(kvCacheLocation(target, device)).toBe('host');
    }
    for (const device of ['webgpu', 'cuda'] as const) {
      const error = thrown(() => plan(manifest, {}, device));
      expect(error.message).toContain(
        'needs in-place attention (a head-major host cache) with float32 activations',
      );
      expect(error.fallback).toBe(
        'convert it with `--attention plain` (the default), which runs on every provider, or run it on "cpu" or "wasm"',
      );
    }
  });

  it('refuses a fused-attention float32 target on cuda, naming the provider, the model and the fallback', async () => {
    const manifest = await withModels((m) => (m.id === 'target' ? FUSED : null));
    const error = thrown(() => plan(manifest, {}, 'cuda', 'bundle/treespec.json'));
    expect(error).toMatchObject({ code: 'PROVIDER_UNSUPPORTED', provider: 'cuda', model: 'target' });
    expect(error.message).toBe(
      'bundle/treespec.json: model "target" needs fused attention (GroupQueryAttention) with float32 ' +
        'activations, which execution provider "cuda" cannot run; convert it with `--attention plain` ' +
        '(the default), which runs on every provider, or run it on "cpu" or "wasm"',
    );
  });

  it('names a model of the same role in the bundle that the provider runs', async () => {
    const tiny = await tinyManifest();
    const target = tiny.models.find((m) => m.id === 'target')!;
    const manifest: Manifest = {
      ...tiny,
      models: [{ ...target, ...FUSED }, { ...target, id: 'target-plain' }, ...tiny.models.slice(1)],
    };
    const error = thrown(() => plan(manifest, {}, 'cuda'));
    expect(error.fallback).toMatch(/^load the bundle's target "target-plain" instead \(option `models`\)/);
    expect(plan(manifest, { models: ['target-plain'] }, 'cuda').target.id).toBe('target-plain');
  });

  it('refuses float16 activations on cpu and wasm, for the target and a draft model, and fused float16 on webgpu', async () => {
    const halfTarget = await withModels((m) => (m.id === 'target' ? { dtype: 'float16' } : null));
    const error = thrown(() => plan(halfTarget, {}, 'cpu'));
    expect(error).toMatchObject({ provider: 'cpu', model: 'target', feature: 'float16 activations' });
    expect(error.fallback).toBe(
      'convert it with float32 activations (the default; `--weights fp16` keeps half-size weights and ' +
        'runs everywhere), or run it on "webgpu" or "cuda"',
    );
    expect(plan(halfTarget, {}, 'webgpu').target.dtype).toBe('float16');
    const halfFused = await withModels((m) => (m.id === 'target' ? { ...FUSED, dtype: 'float16' } : null));
    expect(thrown(() => plan(halfFused, {}, 'webgpu'))).toMatchObject({
      feature: 'fused attention (GroupQueryAttention) with float16 activations',
      fallback:
        'convert it with `--attention plain` (the default), which runs on every provider, or run it on "cuda"',
    });
    const halfDraft = await withModels((m) => (m.role === 'draft' ? { dtype: 'float16' } : null));
    expect(thrown(() => plan(halfDraft, { drafter: 'draft-lm' }, 'wasm')).model).toBe('draft');
    // Not loaded, not checked: the same bundle plans for EAGLE-2 alone.
    expect(plan(halfDraft, { drafter: 'eagle2' }, 'wasm').models.map((m) => m.id)).toEqual([
      'target',
      'eagle-head-fp32',
    ]);
  });
});

describe('where a KV cache lives (KV_CACHE_LOCATION)', () => {
  it('keeps a plain-attention cache on the device of webgpu, and in host memory on cpu, wasm and (until verified there) cuda', async () => {
    const target = (await tinyManifest()).models.find((m) => m.role === 'target')!;
    expect(kvCacheLocation(target, 'webgpu')).toBe('device');
    expect(kvCacheLocation(target, 'cuda')).toBe('host');
    expect(kvCacheLocation(target, 'cpu')).toBe('host');
    expect(kvCacheLocation(target, 'wasm')).toBe('host');
  });

  it('keeps a fused-attention cache, shared in place, on the host everywhere', async () => {
    const target = (await withModels(() => FUSED)).models.find((m) => m.role === 'target')!;
    for (const device of Object.keys(KV_CACHE_LOCATION) as (keyof typeof KV_CACHE_LOCATION)[])
      expect(kvCacheLocation(target, device)).toBe('host');
  });
});
