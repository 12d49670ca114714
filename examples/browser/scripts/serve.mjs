// A static file server for the built page (dist/) and the tiny model, with the headers that make
// the page cross-origin isolated (so onnxruntime-web's WASM can use threads). Used by the Vite
// dev/preview servers (as middleware), the browser test and the measurement script.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { tinyModelDirectory } from '@treespec/model-tiny/node';

/** Headers that make a page cross-origin isolated. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Where the page finds the tiny model bundle. */
export const MODEL_PATH = '/models/tiny/';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

/** The file under `root` a URL path names, or null when it would escape `root`. */
function within(root, path) {
  const file = normalize(join(root, decodeURIComponent(path)));
  return file === root || file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null;
}

/**
 * Sends a file with its length, or returns false when there is none. `truncateAt` sends only
 * that many bytes while announcing the full length (a download cut short); `delayMs` sends in
 * slow 64 KiB slices (to abort a download in the middle).
 */
async function sendFile(res, file, { truncateAt = null, delayMs = 0 } = {}) {
  let info;
  try {
    info = await stat(file);
  } catch {
    return false;
  }
  if (!info.isFile()) return false;
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(info.size),
    'Cache-Control': 'no-cache',
    ...ISOLATION_HEADERS,
  });
  if (truncateAt !== null) {
    createReadStream(file, { end: truncateAt - 1 })
      .on('end', () => res.destroy())
      .pipe(res, { end: false });
  } else if (delayMs > 0) {
    const stream = createReadStream(file, { highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => {
      stream.pause();
      res.write(chunk);
      setTimeout(() => stream.resume(), delayMs);
    });
    stream.on('end', () => res.end());
    res.on('close', () => stream.destroy());
  } else {
    createReadStream(file).pipe(res);
  }
  return true;
}

/**
 * A request handler: `/models/tiny/…` from @treespec/model-tiny; for tests, the same files under
 * `/truncated/models/tiny/…` (every .onnx.data cut in half) and `/slow/models/tiny/…` (sent
 * slowly); everything else from `root` (when given), with `index.html` for `/`.
 * Calls `next()` (or answers 404) for what it does not serve.
 */
export function treespecHandler({ root = null, testRoutes = false } = {}) {
  const models = tinyModelDirectory();
  return async (req, res, next) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    let sent = false;
    const modelAt = (prefix) => path.startsWith(prefix) && within(models, path.slice(prefix.length));
    if (modelAt(MODEL_PATH)) {
      sent = await sendFile(res, modelAt(MODEL_PATH));
    } else if (testRoutes && modelAt(`/truncated${MODEL_PATH}`)) {
      const file = modelAt(`/truncated${MODEL_PATH}`);
      const size = file.endsWith('.onnx.data') ? (await stat(file).catch(() => ({ size: 0 }))).size : 0;
      sent = await sendFile(res, file, size > 0 ? { truncateAt: Math.floor(size / 2) } : {});
    } else if (testRoutes && modelAt(`/slow${MODEL_PATH}`)) {
      sent = await sendFile(res, modelAt(`/slow${MODEL_PATH}`), { delayMs: 20 });
    } else if (root) {
      const file = within(root, path.endsWith('/') ? `${path}index.html` : path);
      if (file) sent = await sendFile(res, file);
    }
    if (sent) return;
    if (next) return next();
    res.writeHead(404, { 'Content-Type': 'text/plain', ...ISOLATION_HEADERS });
    res.end(`not found: ${path}`);
  };
}

/** Serves `root` and the model on 127.0.0.1 (a free port unless given); resolves { url, close }. */
export async function serve(root, { port = 0, testRoutes = false } = {}) {
  const handler = treespecHandler({ root, testRoutes });
  const server = createServer((req, res) => {
    handler(req, res, null).catch((error) => {
      res.writeHead(500);
      res.end(String(error));
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address();
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] ?? new URL('../dist/', import.meta.url).pathname;
  const { url } = await serve(root, { port: Number(process.env.PORT ?? 4173) });
  console.log(`serving ${root} and ${MODEL_PATH} at ${url}`);
}
