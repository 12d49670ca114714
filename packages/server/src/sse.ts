import type { ServerResponse } from 'node:http';

/** Headers of a server-sent event stream that proxies must not buffer. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

/**
 * Writes one `data:` event and waits for the socket to drain when its buffer is full, so a slow
 * reader slows the generation instead of growing the server's memory. Resolves false when the
 * client has gone.
 */
export function writeEvent(response: ServerResponse, data: object | string): Promise<boolean> {
  if (response.destroyed || response.writableEnded) return Promise.resolve(false);
  const payload = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
  if (response.write(payload)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (drained: boolean) => {
      response.off('drain', onDrain);
      response.off('close', onClose);
      resolve(drained);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    response.on('drain', onDrain);
    response.on('close', onClose);
  });
}
