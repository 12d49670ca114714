import { timingSafeEqual } from 'node:crypto';
import { OptionError } from '@treespec/core';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { ApiError } from './api-error.js';
import { CompletionHandler } from './completion-handler.js';
import { chatGeneration, completionGeneration, type RequestLimits } from './generation-request.js';
import { GenerationSlot } from './generation-slot.js';
import { chatCompletionRequest, completionRequest, parseBody } from './request-schema.js';
import type { ServedGenerator } from './served-generator.js';
import { ServerMetrics } from './server-metrics.js';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The id clients name in `model` and `GET /v1/models` lists. Default `treespec`. */
  modelId?: string;
  /**
   * When set, every route but `/health` and `/metrics` requires `Authorization: Bearer <apiKey>`;
   * an empty key is refused. Default: no key.
   */
  apiKey?: string;
  /** Most requests waiting behind the running generation; more get a 429. Default 64. */
  maxQueue?: number;
  /** Largest `max_tokens` a request may ask for. Default 4096. */
  maxTokensLimit?: number;
  /** `max_tokens` of a request that gives none. Default 256. */
  defaultMaxTokens?: number;
  /** Largest request body in bytes; larger ones get a 413. Default 1 MiB. */
  bodyLimit?: number;
  /** On `close()`, how long the running generation may go on before it is aborted. Default 10 000 ms. */
  shutdownGraceMs?: number;
  /** Log requests with Fastify's logger (pino) to stdout. Default false. */
  logger?: boolean;
}

/** Where {@link TreespecServer.listen} binds. */
export interface ListenOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
}

/** A running or ready-to-listen treespec server. */
export interface TreespecServer {
  /** The Fastify app (inject requests in tests, add routes, or mount it). */
  readonly app: FastifyInstance;
  readonly metrics: ServerMetrics;
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:8000`. */
  listen(options?: ListenOptions): Promise<string>;
  /**
   * Shuts down gracefully: refuses new requests (503), refuses queued ones, lets the running
   * generation finish for up to `shutdownGraceMs`, aborts it after that, then closes the socket.
   */
  close(): Promise<void>;
}

const BEARER = /^Bearer\s+(.+)$/i;

/**
 * The routes open without the API key. Every other request, whatever route it matched or none,
 * needs it: the decision follows the route the router matched, so a path written another way
 * (`/%761/models`, which the router decodes to `/v1/models`) cannot pass around it.
 */
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/health', '/metrics']);

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'the server is shutting down', {
    type: 'service_unavailable_error',
    code: 'shutting_down',
  });
}

function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply.code(error.status).headers(error.headers).send(error.body());
}

/**
 * Creates an OpenAI-compatible HTTP server over a generator: `POST /v1/chat/completions`,
 * `POST /v1/completions` (both streaming as server-sent events with `stream: true`),
 * `GET /v1/models`, `GET /health` and `GET /metrics` (Prometheus, vLLM's metric names). One
 * generation runs at a time; requests wait in arrival order in a bounded queue.
 *
 * ```ts
 * const server = createServer(await loadTreespec(dir), { modelId: 'tiny' });
 * const url = await server.listen({ port: 8000 }); // http://127.0.0.1:8000
 * ```
 */
export function createServer(generator: ServedGenerator, options: ServerOptions = {}): TreespecServer {
  const modelId = options.modelId ?? 'treespec';
  const graceMs = options.shutdownGraceMs ?? 10_000;
  const slot = new GenerationSlot(options.maxQueue ?? 64);
  const metrics = new ServerMetrics(modelId, slot);
  const limits: RequestLimits = {
    maxTokensLimit: options.maxTokensLimit ?? 4096,
    defaultMaxTokens: Math.min(options.defaultMaxTokens ?? 256, options.maxTokensLimit ?? 4096),
    drafters: Object.keys(generator.drafters),
    vocabSize: generator.tokenizer.vocabSize,
  };
  const handler = new CompletionHandler({ generator, slot, metrics, modelId });
  const started = Math.floor(Date.now() / 1000);
  let closing = false;

  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey.trim() === '')) {
    throw new OptionError('apiKey', options.apiKey, 'a non-empty key, or no apiKey for a server without one');
  }

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1 << 20,
    // A path the router cannot decode (`/v1/models/%E0`), or one too long, in OpenAI's shape too.
    frameworkErrors: (error, _request, reply) =>
      sendError(
        reply,
        new ApiError((error as { statusCode?: number }).statusCode ?? 400, error.message, {
          code: error.code === 'FST_ERR_BAD_URL' ? 'invalid_url' : (error.code?.toLowerCase() ?? null),
        }),
      ),
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.raw.once('close', () =>
      metrics.countHttp(request.routeOptions.url ?? 'unmatched', request.method, reply.raw.statusCode),
    );
    const route = request.routeOptions.url;
    if (closing && route !== '/metrics') throw shuttingDown();
    if (options.apiKey === undefined || (route !== undefined && OPEN_ROUTES.has(route))) return;
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match || !sameSecret(match[1]!.trim(), options.apiKey)) {
      throw new ApiError(401, 'incorrect or missing API key: send Authorization: Bearer <key>', {
        type: 'authentication_error',
        code: 'invalid_api_key',
      });
    }
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof ApiError) return sendError(reply, error);
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message =
        error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `the request body is larger than ${app.initialConfig.bodyLimit} bytes`
          : error.message;
      return sendError(reply, new ApiError(status, message, { code: error.code?.toLowerCase() ?? null }));
    }
    request.log.error(error);
    return sendError(reply, new ApiError(500, 'internal server error', { code: 'internal_error' }));
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new ApiError(404, `no route ${request.method} ${request.url}`, {
        type: 'not_found_error',
        code: 'not_found',
      }),
    ),
  );

  const modelObject = { id: modelId, object: 'model', created: started, owned_by: 'treespec' };

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/v1/models', async () => ({ object: 'list', data: [modelObject] }));
  // A wildcard, since model ids such as meta-llama/Llama-3.1-8B-Instruct hold slashes.
  app.get<{ Params: { '*': string } }>('/v1/models/*', async (request) => {
    // The router has decoded the path once; decoding again would read `%2541` as `A`.
    const id = request.params['*'];
    if (id !== modelId) throw handler.unknownModel(id);
    return modelObject;
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.text()),
  );

  app.post('/v1/chat/completions', async (request, reply) => {
    const body = parseBody(chatCompletionRequest, request.body);
    return handler.handle('chat', body.model, chatGeneration(body, limits), request, reply);
  });

  app.post('/v1/completions', async (request, reply) => {
    const body = parseBody(completionRequest, request.body);
    return handler.handle('text', body.model, completionGeneration(body, limits), request, reply);
  });

  return {
    app,
    metrics,
    async listen(listenOptions: ListenOptions = {}) {
      return app.listen({ host: listenOptions.host ?? '127.0.0.1', port: listenOptions.port ?? 8000 });
    },
    async close() {
      closing = true;
      slot.close(shuttingDown());
      await handler.drain(graceMs);
      await app.close();
    },
  };
}
