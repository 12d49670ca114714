/** A Response whose body arrives in `chunks` (of the given bytes), optionally failing after them. */
export function chunkedResponse(
  bytes: Uint8Array,
  options: {
    chunk?: number;
    contentLength?: number | null;
    failAfter?: number;
    headers?: Record<string, string>;
  } = {},
): Response {
  const chunk = options.chunk ?? 1000;
  const end = options.failAfter ?? bytes.length;
  let at = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= end) {
        if (options.failAfter !== undefined) controller.error(new TypeError('network error'));
        else controller.close();
        return;
      }
      const next = Math.min(at + chunk, end);
      controller.enqueue(bytes.slice(at, next));
      at = next;
    },
  });
  const length = options.contentLength === undefined ? bytes.length : options.contentLength;
  const headers: Record<string, string> = { ...options.headers };
  if (length !== null) headers['content-length'] = String(length);
  return new Response(body, { status: 200, headers });
}

/** Bytes 0, 1, 2, … (mod 256). */
export function sampleBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i % 256);
}

/** A Cache Storage `Cache` kept in a Map (Node has none). */
export class MemoryCache {
  readonly entries = new Map<string, { body: Uint8Array; headers: Headers }>();

  async match(key: RequestInfo | URL): Promise<Response | undefined> {
    const entry = this.entries.get(keyOf(key));
    return entry
      ? new Response(entry.body as Uint8Array<ArrayBuffer>, { headers: entry.headers })
      : undefined;
  }

  async put(key: RequestInfo | URL, response: Response): Promise<void> {
    this.entries.set(keyOf(key), {
      body: new Uint8Array(await response.arrayBuffer()),
      headers: new Headers(response.headers),
    });
  }

  async delete(key: RequestInfo | URL): Promise<boolean> {
    return this.entries.delete(keyOf(key));
  }

  async keys(): Promise<Request[]> {
    return [...this.entries.keys()].map((url) => new Request(url));
  }

  /** This object typed as a `Cache`. */
  asCache(): Cache {
    return this as unknown as Cache;
  }
}

function keyOf(key: RequestInfo | URL): string {
  return typeof key === 'string' ? key : key instanceof URL ? key.href : key.url;
}
