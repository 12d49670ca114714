import { AbortError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { DownloadError, download, type LoadProgress, ProgressTracker } from '../src/internal.js';
import { chunkedResponse, MemoryCache, sampleBytes } from './fakes.js';

const URL_ = 'https://models.example/tiny/target.onnx.data';
const fetchOf = (make: () => Response | Promise<Response>) => {
  const calls: string[] = [];
  const fetch = (async (url: string) => {
    calls.push(url);
    return make();
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
};

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('download', () => {
  it('returns every byte and reports progress against the Content-Length', async () => {
    const bytes = sampleBytes(10_000);
    const reports: LoadProgress[] = [];
    const progress = new ProgressTracker((p) => reports.push(p), { intervalMs: 0 });
    const { fetch } = fetchOf(() => chunkedResponse(bytes, { chunk: 3000 }));
    const result = await download(URL_, { fetch, progress });
    expect(result.fromCache).toBe(false);
    expect(result.bytes).toEqual(bytes);
    expect(reports.map((r) => r.loaded)).toEqual([0, 3000, 6000, 9000, 10_000, 10_000]);
    expect(reports.every((r) => r.total === 10_000)).toBe(true);
  });

  it('turns a 404 into a DownloadError with the URL and the status', async () => {
    const { fetch } = fetchOf(() => new Response('Not Found', { status: 404 }));
    const error = await failure(download(URL_, { fetch }));
    expect(error).toBeInstanceOf(DownloadError);
    expect(error).toMatchObject({ code: 'LOAD', reason: 'http', status: 404, url: URL_ });
    expect((error as Error).message).toContain(`${URL_}: download failed with HTTP 404`);
    expect((error as Error).message).toContain('check the model URL');
  });

  it('reports a body shorter than its Content-Length as truncated, with both sizes', async () => {
    const { fetch } = fetchOf(() => chunkedResponse(sampleBytes(600), { contentLength: 1000 }));
    const error = await failure(download(URL_, { fetch }));
    expect(error).toMatchObject({
      reason: 'truncated',
      expectedBytes: 1000,
      receivedBytes: 600,
      status: 200,
    });
    expect((error as Error).message).toBe(
      `${URL_}: download truncated: received 600 of 1000 bytes (Content-Length); ` +
        'the connection closed early or the server sent a partial file',
    );
  });

  it('reports a connection that fails mid-body as truncated', async () => {
    const { fetch } = fetchOf(() => chunkedResponse(sampleBytes(1000), { chunk: 100, failAfter: 300 }));
    const error = await failure(download(URL_, { fetch }));
    expect(error).toMatchObject({ reason: 'truncated', expectedBytes: 1000, receivedBytes: 300 });
  });

  it('turns a failed request into a network DownloadError', async () => {
    const fetch = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof globalThis.fetch;
    const error = await failure(download(URL_, { fetch }));
    expect(error).toMatchObject({ reason: 'network', status: null, receivedBytes: null });
    expect((error as Error).message).toContain('could not be fetched (Failed to fetch)');
  });

  it('does not check the length of a compressed response, whose Content-Length counts compressed bytes', async () => {
    const bytes = sampleBytes(5000);
    const { fetch } = fetchOf(() =>
      chunkedResponse(bytes, { contentLength: 1200, headers: { 'content-encoding': 'gzip' } }),
    );
    expect((await download(URL_, { fetch })).bytes).toEqual(bytes);
  });

  it('rejects with AbortError when aborted before or during the body', async () => {
    const before = new AbortController();
    before.abort();
    const { fetch, calls } = fetchOf(() => chunkedResponse(sampleBytes(10)));
    expect(await failure(download(URL_, { fetch, signal: before.signal }))).toBeInstanceOf(AbortError);
    expect(calls).toEqual([]);

    const during = new AbortController();
    const progress = new ProgressTracker(
      (p) => {
        if (p.loaded >= 200) during.abort();
      },
      { intervalMs: 0 },
    );
    const slow = fetchOf(() => chunkedResponse(sampleBytes(100_000), { chunk: 100 }));
    const error = await failure(download(URL_, { fetch: slow.fetch, signal: during.signal, progress }));
    expect(error).toBeInstanceOf(AbortError);
    expect(error).toMatchObject({ code: 'ABORTED' });
  });

  it('serves a second download from the cache without touching the network', async () => {
    const bytes = sampleBytes(4096);
    const cache = new MemoryCache();
    const { fetch, calls } = fetchOf(() => chunkedResponse(bytes));
    const first = await download(URL_, { fetch, cache: cache.asCache(), cacheKey: `${URL_}?v=1` });
    const second = await download(URL_, { fetch, cache: cache.asCache(), cacheKey: `${URL_}?v=1` });
    expect(calls).toHaveLength(1);
    expect(first.fromCache).toBe(false);
    expect(second).toEqual({ bytes, fromCache: true });
  });

  it('never caches a failed download, and replaces a damaged cached copy', async () => {
    const bytes = sampleBytes(2000);
    const cache = new MemoryCache();
    const truncated = fetchOf(() => chunkedResponse(bytes.slice(0, 500), { contentLength: 2000 }));
    await failure(download(URL_, { fetch: truncated.fetch, cache: cache.asCache() }));
    expect(cache.entries.size).toBe(0);

    cache.entries.set(URL_, { body: bytes.slice(0, 10), headers: new Headers({ 'content-length': '2000' }) });
    const good = fetchOf(() => chunkedResponse(bytes));
    const result = await download(URL_, { fetch: good.fetch, cache: cache.asCache() });
    expect(result).toEqual({ bytes, fromCache: false });
    expect(good.calls).toHaveLength(1);
    expect(cache.entries.get(URL_)?.body).toEqual(bytes);
  });
});
