import { describe, expect, it } from 'vitest';
import {
  bundleVersion,
  cacheKey,
  cacheKeyFile,
  clearModelCache,
  openModelCache,
  settleVersion,
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

  it('keeps an older version beside a new one until the new one is settled, then drops it', async () => {
    const cache = new MemoryCache();
    const url = 'https://example.com/m/target.onnx';
    const head = 'https://example.com/m/head.onnx';
    const manifest = 'https://example.com/m/treespec.json';
    await storeInCache(cache.asCache(), cacheKey(url, 'old'), new Uint8Array([1, 2]));
    await storeInCache(cache.asCache(), cacheKey(head, 'old'), new Uint8Array([3]));
    await storeInCache(cache.asCache(), manifest, new Uint8Array([7]));
    expect(await storeInCache(cache.asCache(), cacheKey(url, 'new'), new Uint8Array([4, 5, 6]))).toBe(true);
    expect(cache.entries.size).toBe(4);
    const stored = await cache.match(cacheKey(url, 'new'));
    expect(stored?.headers.get('content-length')).toBe('3');
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(new Uint8Array([4, 5, 6]));
    // A load of the new version that read the target alone: its manifest is stored, the target's
    // old version dropped; the head, which it did not load, stays.
    await settleVersion(cache.asCache(), [cacheKey(url, 'new')], [[manifest, new Uint8Array([8])]]);
    expect([...cache.entries.keys()].sort()).toEqual([cacheKey(head, 'old'), cacheKey(url, 'new'), manifest]);
    expect(new Uint8Array(await (await cache.match(manifest))!.arrayBuffer())).toEqual(new Uint8Array([8]));
  });

  it("makes room by dropping a file's other versions when storing it fails", async () => {
    const cache = new MemoryCache();
    const url = 'https://example.com/m/target.onnx';
    await storeInCache(cache.asCache(), cacheKey(url, 'old'), new Uint8Array([1, 2]));
    const put = cache.put.bind(cache);
    // Room for one version of the file.
    cache.put = async (key, response) => {
      if (cache.entries.size > 0) throw new DOMException('quota exceeded', 'QuotaExceededError');
      return put(key, response);
    };
    expect(await storeInCache(cache.asCache(), cacheKey(url, 'new'), new Uint8Array([3]))).toBe(true);
    expect([...cache.entries.keys()]).toEqual([cacheKey(url, 'new')]);
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
