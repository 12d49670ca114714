/** The Cache Storage cache treespec keeps model bundle files in, unless told otherwise. */
export const DEFAULT_CACHE_NAME = 'treespec-models';

/** The query parameter that carries the bundle version in a cache key. */
const VERSION_PARAM = 'treespec-bundle';

/**
 * The version of a model bundle: the first 16 hex digits of the SHA-256 of its manifest text and
 * its checksums file (`treespec.sha256`, every model file's SHA-256, where the bundle has one).
 * The manifest fingerprints the tokenizer and the weights' lm_head; the checksums every byte of
 * every model file, so a bundle converted again whose manifest did not change (weights changed
 * below the lm_head) is a new version too, and cached files of an older one are never reused.
 */
export async function bundleVersion(manifestText: string, checksumsText = ''): Promise<string> {
  const text = checksumsText === '' ? manifestText : `${manifestText}\n${checksumsText}`;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The Cache Storage key of one bundle file: its absolute URL with the bundle version as a query
 * parameter (`…/target.onnx?treespec-bundle=3f2a…`), so two versions of a file never collide.
 */
export function cacheKey(url: string, version: string): string {
  const key = new URL(url);
  key.searchParams.set(VERSION_PARAM, version);
  return key.href;
}

/** The file URL of a {@link cacheKey} (the key without its version), to find stale versions. */
export function cacheKeyFile(key: string): string {
  const url = new URL(key);
  url.searchParams.delete(VERSION_PARAM);
  return url.href;
}

/** The Cache Storage of this context, or null where there is none (an insecure origin, an old browser, Node). */
export function cacheStorage(): CacheStorage | null {
  const storage = (globalThis as { caches?: CacheStorage }).caches;
  return storage && typeof storage.open === 'function' ? storage : null;
}

/** Opens the model cache, or resolves null when Cache Storage is unavailable or refuses (e.g. private mode). */
export async function openModelCache(name: string = DEFAULT_CACHE_NAME): Promise<Cache | null> {
  const storage = cacheStorage();
  if (!storage) return null;
  try {
    return await storage.open(name);
  } catch {
    return null;
  }
}

/**
 * Stores a downloaded file under `key`, beside any other version of it: an update cut short
 * must leave the version stored before it whole for offline loads ({@link settleVersion} drops
 * the others once the new one is). Where there is no room, the file's other versions are dropped
 * and it is stored again. Storage failures (quota, private mode) are ignored: the load goes on
 * uncached. Resolves whether the file was stored.
 */
export async function storeInCache(cache: Cache, key: string, bytes: Uint8Array): Promise<boolean> {
  const put = () =>
    cache.put(
      key,
      new Response(bytes as Uint8Array<ArrayBuffer>, {
        headers: { 'content-length': String(bytes.byteLength), 'content-type': 'application/octet-stream' },
      }),
    );
  try {
    await put();
    return true;
  } catch {
    try {
      await dropOtherVersions(cache, [key]);
      await put();
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * After a load whose files are all stored: stores the bundle's `documents` (its manifest and
 * checksums, `[url, bytes]`, which say which version offline loads read) and then drops every
 * other version of the `keys` loaded. Until then an offline load finds the documents of the
 * version stored before, and that version's files. Storage failures are ignored.
 */
export async function settleVersion(
  cache: Cache,
  keys: readonly string[],
  documents: readonly (readonly [string, Uint8Array])[],
): Promise<void> {
  for (const [url, bytes] of documents) await storeInCache(cache, url, bytes);
  await dropOtherVersions(cache, keys).catch(() => {});
}

/** Deletes the stored entries of the files of `keys` whose version differs from theirs. */
async function dropOtherVersions(cache: Cache, keys: readonly string[]): Promise<void> {
  const files = new Set(keys.map(cacheKeyFile));
  const kept = new Set(keys);
  for (const request of await cache.keys()) {
    if (!kept.has(request.url) && files.has(cacheKeyFile(request.url))) await cache.delete(request);
  }
}

/** Deletes treespec's model cache; resolves whether there was one. */
export async function clearModelCache(name: string = DEFAULT_CACHE_NAME): Promise<boolean> {
  const storage = cacheStorage();
  return storage ? storage.delete(name) : false;
}
