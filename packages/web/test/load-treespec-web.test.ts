import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortError, ModelFormatError, ModelLoadError, NumericError, OptionError } from '@treespec/core';
import { tinyDevPrompts, tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { type Manifest, parseManifest } from '@treespec/onnx';
import { plan } from '@treespec/planner';
import { describe, expect, it, vi } from 'vitest';
import {
  DownloadError,
  externalDataLocation,
  type LoadProgress,
  loadTreespecWeb,
  ProviderUnavailableError,
  resolveManifestUrl,
  webGpuFailure,
} from '../src/internal.js';
import { chunkedResponse, MemoryCache } from './fakes.js';

const TINY = tinyModelDirectory();
const BASE = 'https://models.example/tiny/';

/** Serves the tiny bundle as if from BASE; `damage` may answer a file differently. */
function bundleFetch(damage: (file: string, bytes: Uint8Array) => Response | null = () => null) {
  const requested: string[] = [];
  const fetch = (async (url: string, init?: RequestInit) => {
    if (init?.signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const file = url.slice(BASE.length);
    requested.push(file);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(TINY, file)));
    } catch {
      return new Response('Not Found', { status: 404 });
    }
    return damage(file, bytes) ?? chunkedResponse(bytes, { chunk: 1 << 20 });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, requested };
}

async function tinyManifest(): Promise<Manifest> {
  return parseManifest(await readFile(join(TINY, 'treespec.json'), 'utf8'));
}

async function devPrompts(n: number): Promise<string[]> {
  return tinyDevPrompts()
    .slice(0, n)
    .map((p) => p.prompt);
}

describe('loadTreespecWeb (onnxruntime-web WASM, in Node)', () => {
  it('drafts lookup chains of up to 4 tokens by default on WASM, fetching no head, with the text of @treespec/node', async () => {
    const { fetch, requested } = bundleFetch();
    const { generator, info } = await loadTreespecWeb(BASE, { fetch });
    const reference = await loadTreespec(TINY);
    // The priced chains read their step times from `performance.now`: here a clock that each
    // verification advances by its cost in the page (10 ms a plain step, 3 ms a further row), so
    // what they draft does not depend on how loaded this machine is.
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    const inner = generator.target.verify.bind(generator.target);
    const verify = vi.spyOn(generator.target, 'verify').mockImplementation((tree, options) => {
      clock += 10 + 3 * (tree.size - 1);
      return inner(tree, options);
    });
    try {
      expect(info).toMatchObject({ provider: 'wasm', providers: { target: 'wasm' }, drafter: 'lookup' });
      expect(Object.keys(info.providers)).toEqual(['target']);
      expect(requested.filter((f) => f.includes('.onnx')).sort()).toEqual([
        'target.onnx',
        'target.onnx.data',
      ]);
      // Trees drafted, whether or not the target accepted them: the first steps with a match
      // draft a chain before any has been timed, and later ones where they are expected to pay.
      let trees = 0;
      for (const prompt of await devPrompts(2)) {
        const sizes = new Set<number>();
        const web = await generator.generate(prompt, {
          maxTokens: 32,
          onStep: (event) => {
            sizes.add(event.tree.size);
            if (event.tree.size > 1) trees++;
          },
        });
        const node = await reference.generate(prompt, { maxTokens: 32 });
        expect(web.text).toBe(node.text);
        expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
      }
      expect(trees).toBeGreaterThan(0);
    } finally {
      verify.mockRestore();
      now.mockRestore();
      await generator.dispose();
      await reference.dispose();
    }
  });

  it('generates exactly the greedy text of @treespec/node with EAGLE-2, and falls back to WASM without WebGPU', async () => {
    const { fetch } = bundleFetch();
    const wasmPlan = plan(await tinyManifest(), { drafter: 'eagle2' }, 'wasm');
    const wasmHead = wasmPlan.models[1].id;
    const progress: LoadProgress[] = [];
    const { generator, info, kvCacheLocation } = await loadTreespecWeb(BASE, {
      fetch,
      drafter: 'eagle2',
      onProgress: (p) => progress.push(p),
    });
    const reference = await loadTreespec(TINY);
    try {
      expect(info).toMatchObject({
        manifestUrl: `${BASE}treespec.json`,
        provider: 'wasm',
        providers: { target: 'wasm', [wasmHead]: 'wasm' },
        fallbackReason: 'this browser has no WebGPU (navigator.gpu is missing)',
        threads: 1,
      });
      const files = [
        ...wasmPlan.tokenizerFiles,
        ...wasmPlan.models.flatMap((m) => [m.file, ...m.externalData]),
      ];
      const sizes = await Promise.all(files.map(async (f) => (await readFile(join(TINY, f))).byteLength));
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(info.bytes).toEqual({ total, downloaded: total, fromCache: 0 });
      expect(progress.at(-1)).toMatchObject({ loaded: total, total, fraction: 1 });
      // Every file is registered up front: a total, once reported, is the whole load's and never grows.
      expect(progress.find((p) => p.total !== null)?.files).toHaveLength(files.length);
      expect(new Set(progress.flatMap((p) => (p.total === null ? [] : [p.total])))).toEqual(new Set([total]));
      let drafted = 0;
      for (const prompt of await devPrompts(2)) {
        let generated = 0;
        let lastTokenAlone = 0;
        const web = await generator.generate(prompt, {
          maxTokens: 32,
          onStep: (e) => {
            if (32 - generated === 1) lastTokenAlone++;
            generated += e.pathLength;
          },
        });
        const node = await reference.generate(prompt, { maxTokens: 32 });
        expect(web.text).toBe(node.text);
        expect(Array.from(web.tokens)).toEqual(Array.from(node.tokens));
        // The budget controller decides every step but a last token's taken alone (which the loop
        // decodes without a draft); it drafts at least while it learns.
        expect(web.stats.controller?.steps).toBe(web.stats.steps - lastTokenAlone);
        drafted += web.stats.steps - (web.stats.controller?.plainSteps ?? 0);
      }
      expect(drafted).toBeGreaterThan(0);
      // WASM reads host memory: the planner keeps the target's cache there.
      expect(kvCacheLocation()).toBe('cpu');
    } finally {
      await generator.dispose();
      await reference.dispose();
    }
  });

  it("with logCalls, logs a generation's model calls: the prefill, then one target call per step with its tree's rows", async () => {
    const { fetch } = bundleFetch();
    const { generator, calls } = await loadTreespecWeb(BASE, { fetch, drafter: 'eagle2', logCalls: true });
    try {
      const [prompt] = await devPrompts(1);
      const plain = await generator.generate(prompt, { maxTokens: 8, plain: true });
      const promptTokens = plain.promptTokens.length;
      const plainCalls = calls?.toJSON();
      expect(plainCalls?.model).toEqual(Array(1 + plain.stats.steps).fill('target'));
      expect(plainCalls?.rows).toEqual([promptTokens - 1, ...Array(plain.stats.steps).fill(1)]);
      expect(plainCalls?.ms.every((ms) => ms > 0)).toBe(true);

      calls?.reset();
      const spec = await generator.generate(prompt, { maxTokens: 24 });
      const specCalls = calls?.toJSON();
      const targetRows = specCalls?.rows.filter((_, i) => specCalls.model[i] === 'target') ?? [];
      expect(targetRows[0]).toBe(promptTokens - 1);
      expect(targetRows.slice(1).reduce((a, b) => a + b, 0)).toBeCloseTo(
        spec.stats.meanTreeSize * spec.stats.steps,
        6,
      );
      // The head caught up on the prompt's rows before its first draft.
      expect(specCalls?.model.filter((m) => m === 'drafter').length).toBeGreaterThan(0);
      expect(
        Math.max(...(specCalls?.rows.filter((_, i) => specCalls.model[i] === 'drafter') ?? [])),
      ).toBeGreaterThanOrEqual(promptTokens - 1);
    } finally {
      await generator.dispose();
    }
  });

  it('logs no calls without logCalls', async () => {
    const { fetch } = bundleFetch();
    const { generator, calls } = await loadTreespecWeb(BASE, { fetch, drafter: 'none' });
    await generator.dispose();
    expect(calls).toBeNull();
  });

  it('fetches only the models the chosen drafter needs', async () => {
    const { fetch, requested } = bundleFetch();
    const { generator, info } = await loadTreespecWeb(`${BASE}treespec.json`, { fetch, drafter: 'none' });
    await generator.dispose();
    expect(Object.keys(info.providers)).toEqual(['target']);
    expect(requested.filter((f) => f.includes('.onnx')).sort()).toEqual(['target.onnx', 'target.onnx.data']);
  });

  it('rejects a model file that 404s with a DownloadError naming its URL', async () => {
    const { fetch } = bundleFetch((file) =>
      file === 'target.onnx' ? new Response('', { status: 404 }) : null,
    );
    const error = await loadTreespecWeb(BASE, { fetch }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect(error).toMatchObject({ url: `${BASE}target.onnx`, status: 404, reason: 'http' });
  });

  it('rejects a bundle URL without a manifest with a DownloadError for treespec.json', async () => {
    const { fetch } = bundleFetch();
    const error = await loadTreespecWeb('https://models.example/nothing-here', { fetch }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toContain(
      'https://models.example/nothing-here/treespec.json: download failed with HTTP 404',
    );
  });

  it('rejects a truncated external data file as truncated, with both sizes', async () => {
    const { fetch } = bundleFetch((file, bytes) =>
      file === 'target.onnx.data'
        ? chunkedResponse(bytes.subarray(0, 1000), { contentLength: bytes.length })
        : null,
    );
    const error = await loadTreespecWeb(BASE, { fetch }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect(error).toMatchObject({ reason: 'truncated', receivedBytes: 1000, url: `${BASE}target.onnx.data` });
  });

  it('refuses WebGPU asked for by name where there is none, before downloading anything', async () => {
    const { fetch, requested } = bundleFetch();
    const error = await loadTreespecWeb(BASE, { fetch, executionProvider: 'webgpu' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProviderUnavailableError);
    expect((error as Error).message).toBe(
      'execution provider "webgpu" is unavailable: this browser has no WebGPU (navigator.gpu is missing); ' +
        'use executionProvider "auto" to fall back to "wasm"',
    );
    expect(requested).toEqual([]);
    await expect(loadTreespecWeb(BASE, { fetch, executionProvider: 'cuda' as never })).rejects.toThrow(
      'option "executionProvider" must be "auto", "webgpu" or "wasm"; got "cuda"',
    );
  });

  it('rejects with AbortError when aborted during the download', async () => {
    const { fetch } = bundleFetch();
    const controller = new AbortController();
    const error = await loadTreespecWeb(BASE, {
      fetch,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.loaded > 2_000_000) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
  });
});

describe('the model cache across bundle versions', () => {
  it('serves an unchanged bundle from the cache, and downloads one whose model files changed under the same manifest', async () => {
    const cache = new MemoryCache();
    const storage = { open: async () => cache.asCache(), delete: async () => true };
    vi.stubGlobal('caches', storage);
    try {
      const load = async (damage?: (file: string, bytes: Uint8Array) => Response | null) => {
        const { fetch } = bundleFetch(damage);
        const { generator, info } = await loadTreespecWeb(BASE, {
          fetch,
          warmUp: false,
          onWarning: () => {},
        });
        await generator.dispose();
        return info;
      };
      const first = await load();
      expect(first.bytes.downloaded).toBeGreaterThan(0);
      const again = await load();
      expect(again.bytes.downloaded).toBe(0);
      expect(again.version).toBe(first.version);
      // Converted again: a model file's bytes (and so its checksum line) changed, the manifest not.
      const reconverted = await load((file, bytes) =>
        file === 'treespec.sha256'
          ? new Response(new TextDecoder().decode(bytes).replace(/^[0-9a-f]{8}/, '00000000'))
          : null,
      );
      expect(reconverted.version).not.toBe(first.version);
      expect(reconverted.bytes.downloaded).toBe(reconverted.bytes.total);
      // A checksums file the server fails to send fails the load: read as none, it would change
      // the version and replace every cached file.
      const failing = bundleFetch((file) =>
        file === 'treespec.sha256' ? new Response('busy', { status: 503 }) : null,
      );
      await expect(
        loadTreespecWeb(BASE, { fetch: failing.fetch, warmUp: false, onWarning: () => {} }),
      ).rejects.toBeInstanceOf(DownloadError);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('keeps the version stored before whole for offline loads when an update is cut short', async () => {
    const cache = new MemoryCache();
    vi.stubGlobal('caches', { open: async () => cache.asCache(), delete: async () => true });
    try {
      const options = { warmUp: false, onWarning: () => {} };
      const stored = await loadTreespecWeb(BASE, { fetch: bundleFetch().fetch, ...options });
      const [prompt] = await devPrompts(1);
      const before = await stored.generator.generate(prompt!, { maxTokens: 8 });
      await stored.generator.dispose();
      // A new version (its checksums changed) whose big file fails after the others were stored.
      const update = bundleFetch((file, bytes) => {
        if (file === 'treespec.sha256')
          return new Response(new TextDecoder().decode(bytes).replace(/^[0-9a-f]{8}/, '00000000'));
        return file === 'target.onnx.data' ? new Response('busy', { status: 503 }) : null;
      });
      await expect(loadTreespecWeb(BASE, { fetch: update.fetch, ...options })).rejects.toBeInstanceOf(
        DownloadError,
      );
      const offline = (async () => {
        throw new TypeError('fetch failed');
      }) as unknown as typeof globalThis.fetch;
      const { generator, info } = await loadTreespecWeb(BASE, { fetch: offline, ...options });
      try {
        expect(info.version).toBe(stored.info.version);
        expect(info.bytes.downloaded).toBe(0);
        expect((await generator.generate(prompt!, { maxTokens: 8 })).text).toBe(before.text);
      } finally {
        await generator.dispose();
      }
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('auto: WebGPU that cannot run the bundle', () => {
  it('falls back for failures of WebGPU itself, not for errors any provider would meet again', () => {
    expect(webGpuFailure(new ProviderUnavailableError('webgpu', 'no adapter'))).toBe(true);
    expect(
      webGpuFailure(new ModelLoadError('target.onnx', 'ONNX Runtime (webgpu) could not load the model')),
    ).toBe(true);
    expect(webGpuFailure(new RangeError("Can't access output tensor data"))).toBe(true);
    expect(webGpuFailure(new NumericError('target logits are not all finite', 3))).toBe(true);
    expect(webGpuFailure(new OptionError('topK', 0, 'an integer in [1, 4096]'))).toBe(false);
    expect(webGpuFailure(new ModelFormatError('lists no model with role "target"'))).toBe(false);
    expect(webGpuFailure(new DownloadError({ url: 'x', reason: 'http', status: 500 }))).toBe(false);
  });

  it("falls back to WASM with WASM's own plan (drafter, tree, host caches), and generates", async () => {
    const gpu = await import('onnxruntime-web/webgpu');
    const create = vi
      .spyOn(gpu.InferenceSession, 'create')
      .mockRejectedValue(new Error('no available backend found. ERR: [webgpu] RuntimeError: device lost'));
    const navigator = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => ({}) } },
      configurable: true,
    });
    try {
      const { fetch } = bundleFetch();
      const { generator, info, kvCacheLocation } = await loadTreespecWeb(BASE, {
        fetch,
        executionProvider: 'auto',
        onWarning: () => {},
      });
      try {
        const wasmPlan = plan(await tinyManifest(), {}, 'wasm');
        expect(create).toHaveBeenCalled();
        expect(info).toMatchObject({
          provider: 'wasm',
          providers: { target: 'wasm' },
          drafter: wasmPlan.defaultDrafter,
          tree: wasmPlan.budgets.tree,
        });
        expect(info.fallbackReason).toMatch(/^WebGPU failed to run the bundle: .*device lost/);
        const [prompt] = await devPrompts(1);
        const reference = await loadTreespec(TINY, { warmUp: false });
        try {
          const expected = (await reference.generate(prompt!, { maxTokens: 16, plain: true })).text;
          expect((await generator.generate(prompt!, { maxTokens: 16 })).text).toBe(expected);
        } finally {
          await reference.dispose();
        }
        expect(kvCacheLocation()).toBe('cpu');
      } finally {
        await generator.dispose();
      }
    } finally {
      create.mockRestore();
      if (navigator) Object.defineProperty(globalThis, 'navigator', navigator);
      else Reflect.deleteProperty(globalThis, 'navigator');
    }
  });
});

describe('bundle addressing', () => {
  it('finds the manifest from a folder URL or the manifest URL itself', () => {
    expect(resolveManifestUrl('https://x.org/m/tiny')).toBe('https://x.org/m/tiny/treespec.json');
    expect(resolveManifestUrl('https://x.org/m/tiny/')).toBe('https://x.org/m/tiny/treespec.json');
    expect(resolveManifestUrl(new URL('https://x.org/m/tiny/treespec.json'))).toBe(
      'https://x.org/m/tiny/treespec.json',
    );
    expect(() => resolveManifestUrl('/models/tiny/')).toThrow(
      'option "modelUrl" must be an absolute URL, or a URL relative to the page; got "/models/tiny/"',
    );
  });

  it('names external data relative to the .onnx file', () => {
    expect(externalDataLocation('target.onnx', 'target.onnx.data')).toBe('target.onnx.data');
    expect(externalDataLocation('onnx/target.onnx', 'onnx/target.onnx.data')).toBe('target.onnx.data');
    expect(externalDataLocation('onnx/target.onnx', 'shared/weights.bin')).toBe('shared/weights.bin');
  });
});
