import { AbortError } from '@treespec/core';
import { DownloadError } from './errors.js';
import { storeInCache } from './model-cache.js';
import type { ProgressTracker } from './progress.js';

/** Options of {@link download}. */
export interface DownloadOptions {
  /** The fetch to use. Default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Cancels the download; it then rejects with core's `AbortError`. */
  signal?: AbortSignal;
  /** Where to look for the file first and to store it after a complete download; null: no caching. */
  cache?: Cache | null;
  /** The file's key in `cache` (see `cacheKey`). Default: the URL. */
  cacheKey?: string;
  /** Receives the bytes as they arrive. */
  progress?: ProgressTracker;
}

/** A downloaded file. */
export interface Downloaded {
  bytes: Uint8Array;
  /** True when the bytes came from the cache. */
  fromCache: boolean;
}

/**
 * Downloads one file completely, reporting progress, or rejects with a {@link DownloadError}
 * (HTTP status, truncated body, network failure) or an `AbortError`. With a cache, a stored copy
 * is used without touching the network, and a complete download is stored; a stored copy whose
 * length disagrees with its own record is dropped and downloaded again.
 */
export async function download(url: string, options: DownloadOptions = {}): Promise<Downloaded> {
  const { signal, cache, progress } = options;
  const key = options.cacheKey ?? url;
  throwIfAborted(signal, url);
  if (cache) {
    const hit = await cache.match(key).catch(() => undefined);
    if (hit) {
      try {
        return { bytes: await readBody(url, hit, true, signal, progress), fromCache: true };
      } catch (error) {
        if (error instanceof AbortError) throw error;
        await cache.delete(key).catch(() => false);
      }
    }
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    // Revalidated with the server: a bundle file's URL stays the same across versions, so the
    // browser's HTTP cache could hand an older version's bytes to a newer version's cache key.
    response = await fetchImpl(url, { cache: 'no-cache', ...(signal ? { signal } : {}) });
  } catch (cause) {
    throwIfAborted(signal, url);
    throw new DownloadError({ url, reason: 'network', cause });
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new DownloadError({ url, reason: 'http', status: response.status });
  }
  const bytes = await readBody(url, response, false, signal, progress);
  if (cache) await storeInCache(cache, key, bytes);
  return { bytes, fromCache: false };
}

/** The announced body size, or null when absent or not the size of the decoded body (compressed transfer). */
export function expectedLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding.toLowerCase() !== 'identity') return null;
  const header = response.headers.get('content-length');
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header);
}

async function readBody(
  url: string,
  response: Response,
  fromCache: boolean,
  signal: AbortSignal | undefined,
  progress: ProgressTracker | undefined,
): Promise<Uint8Array> {
  const expected = expectedLength(response);
  progress?.start(url, expected, fromCache);
  const body = new GrowableBytes(expected ?? 1 << 20);
  const truncated = (cause?: unknown) =>
    new DownloadError({
      url,
      reason: 'truncated',
      status: response.status,
      expectedBytes: expected,
      receivedBytes: body.length,
      cause,
    });
  if (!response.body) {
    body.push(new Uint8Array(await response.arrayBuffer()));
  } else {
    const reader = response.body.getReader();
    const onAbort = () => void reader.cancel().catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        body.push(value);
        progress?.update(url, body.length);
      }
    } catch (cause) {
      throwIfAborted(signal, url);
      if (expected !== null && body.length < expected) throw truncated(cause);
      throw new DownloadError({ url, reason: 'network', status: response.status, cause });
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    throwIfAborted(signal, url);
  }
  if (expected !== null && body.length < expected) throw truncated();
  progress?.finish(url, body.length);
  return body.bytes();
}

function throwIfAborted(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw new AbortError(`loading ${url} was aborted`);
}

/** Bytes appended chunk by chunk into one buffer, preallocated to the announced size. */
class GrowableBytes {
  private buffer: Uint8Array;
  length = 0;

  constructor(capacity: number) {
    this.buffer = new Uint8Array(capacity);
  }

  push(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.length + chunk.length, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length += chunk.length;
  }

  /** The bytes, without a copy when the buffer is exactly full. */
  bytes(): Uint8Array {
    return this.length === this.buffer.length ? this.buffer : this.buffer.slice(0, this.length);
  }
}
