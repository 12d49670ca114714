import { describe, expect, it } from 'vitest';
import {
  bundleVersion,
  cacheKey,
  cacheKeyFile,
  clearModelCache,
  openModelCache,
  storeInCache,
} from '../src/internal.js';
import { MemoryCache } from './fakes.js';

describe('cache keys', () => {
  it('versions a bundle by the SHA-256 of its manifest text', async () => {
    // sha256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(await bundleVersion('abc')).toBe('ba7816bf8f01cfea');
    expect(await bundleVersion('{"version":1}')).not.toBe(await bundleVersion('{"version":1} '));
  });

  it('puts the version into the file URL and takes it out again', () => {
    const key = cacheKey('https://example.com/m/target.onnx.data', '0123456789abcdef');
    expect(key).toBe('https://example.com/m/target.onnx.data?treespec-bundle=0123456789abcdef');
    expect(cacheKeyFile(key)).toBe('https://example.com/m/target.onnx.data');
    const signed = cacheKey('https://cdn.example.com/target.onnx?sig=x', 'v2');
    expect(signed).toBe('https://cdn.example.com/target.onnx?sig=x&treespec-bundle=v2');
    expect(cacheKeyFile(signed)).toBe('https://cdn.example.com/target.onnx?sig=x');
  });

  it('replaces the cached copy of an older bundle version when a new one is stored', async () => {
    const cache = new MemoryCache();
    const url = 'https://example.com/m/target.onnx';
    await storeInCache(cache.asCache(), cacheKey(url, 'old'), new Uint8Array([1, 2]));
    await storeInCache(
      cache.asCache(),
      cacheKey('https://example.com/m/head.onnx', 'old'),
      new Uint8Array([3]),
    );
    expect(await storeInCache(cache.asCache(), cacheKey(url, 'new'), new Uint8Array([4, 5, 6]))).toBe(true);
    expect([...cache.entries.keys()].sort()).toEqual([
      'https://example.com/m/head.onnx?treespec-bundle=old',
      'https://example.com/m/target.onnx?treespec-bundle=new',
    ]);
    const stored = await cache.match(cacheKey(url, 'new'));
    expect(stored?.headers.get('content-length')).toBe('3');
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(new Uint8Array([4, 5, 6]));
  });

  it('goes on without caching where storing fails (quota, private mode)', async () => {
    const full = {
      keys: async () => [],
      delete: async () => false,
      put: async () => {
        throw new DOMException('quota exceeded', 'QuotaExceededError');
      },
    } as unknown as Cache;
    expect(await storeInCache(full, 'https://example.com/x', new Uint8Array(1))).toBe(false);
  });

  it('has no cache where the runtime has no Cache Storage', async () => {
    expect(await openModelCache()).toBeNull();
    expect(await clearModelCache()).toBe(false);
  });
});
