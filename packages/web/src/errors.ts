import { ModelLoadError, ProviderUnavailableError, TreespecError } from '@treespec/core';

export { ModelLoadError, ProviderUnavailableError };

// Each class sets its name explicitly: TreespecError takes `new.target.name`, which minifiers rename.

/** Why a download failed: an HTTP error status, a body shorter than announced, or no response at all. */
export type DownloadFailure = 'http' | 'truncated' | 'network';

/** What a {@link DownloadError} knows about the failed download. */
export interface DownloadErrorDetails {
  url: string;
  reason: DownloadFailure;
  /** The HTTP status, when a response arrived. */
  status?: number | null;
  /** The size the server announced (Content-Length), when it did. */
  expectedBytes?: number | null;
  /** The bytes received before the download failed. */
  receivedBytes?: number | null;
  cause?: unknown;
}

/**
 * A model or tokenizer file that could not be downloaded: a 404 (or any other non-2xx status), a
 * truncated body, or a network failure. The message names the URL and what was expected.
 */
export class DownloadError extends TreespecError {
  readonly url: string;
  readonly reason: DownloadFailure;
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null;
  /** Content-Length the server announced, or null. */
  readonly expectedBytes: number | null;
  /** Bytes received before the failure, or null when the body was never read. */
  readonly receivedBytes: number | null;

  constructor(details: DownloadErrorDetails) {
    super('LOAD', downloadMessage(details), { cause: details.cause });
    this.name = 'DownloadError';
    this.url = details.url;
    this.reason = details.reason;
    this.status = details.status ?? null;
    this.expectedBytes = details.expectedBytes ?? null;
    this.receivedBytes = details.receivedBytes ?? null;
  }
}

function downloadMessage(d: DownloadErrorDetails): string {
  if (d.reason === 'http') {
    const hint =
      d.status === 404
        ? 'expected a file of the model bundle here; check the model URL (it must point at the folder holding treespec.json)'
        : 'expected a 2xx response';
    return `${d.url}: download failed with HTTP ${d.status}; ${hint}`;
  }
  if (d.reason === 'truncated') {
    return (
      `${d.url}: download truncated: received ${d.receivedBytes} of ${d.expectedBytes} bytes ` +
      '(Content-Length); the connection closed early or the server sent a partial file'
    );
  }
  const why = d.cause instanceof Error ? d.cause.message : String(d.cause ?? 'unknown error');
  return `${d.url}: could not be fetched (${why}); check the URL, the network and CORS headers`;
}

/** A message between the page and the treespec worker that breaks the protocol (always a bug in the sender). */
export class WorkerProtocolError extends TreespecError {
  constructor(message: string) {
    super('CONTRACT', `treespec worker protocol: ${message}`);
    this.name = 'WorkerProtocolError';
  }
}

/** Core's {@link ProviderUnavailableError} for a browser provider, with the way out when it is WebGPU. */
export function providerUnavailable(
  provider: 'webgpu' | 'wasm',
  reason: string,
  cause?: unknown,
): ProviderUnavailableError {
  const hint = provider === 'webgpu' ? 'use executionProvider "auto" to fall back to "wasm"' : undefined;
  return new ProviderUnavailableError(provider, reason, { cause, ...(hint ? { hint } : {}) });
}
