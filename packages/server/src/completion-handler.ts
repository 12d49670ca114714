import { randomUUID } from 'node:crypto';
import type { TextGenerationStream, TextResult } from '@treespec/generator';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './api-error.js';
import { ChunkWriter, chatCompletion, type ResponseIdentity, textCompletion } from './completion-response.js';
import { apiErrorOf } from './generation-errors.js';
import type { GenerationRequest } from './generation-request.js';
import type { GenerationSlot } from './generation-slot.js';
import type { ServedGenerator } from './served-generator.js';
import type { ServerMetrics } from './server-metrics.js';
import { SSE_HEADERS, writeEvent } from './sse.js';

/** What a {@link CompletionHandler} serves with. */
export interface CompletionServices {
  readonly generator: ServedGenerator;
  readonly slot: GenerationSlot;
  readonly metrics: ServerMetrics;
  readonly modelId: string;
}

interface Running {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

const DISCONNECTED = 'the client disconnected';

/** Whether `signal` was aborted because the client went away (not by the server's shutdown). */
function clientGone(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as Error | undefined)?.message === DISCONNECTED;
}

/**
 * Runs validated completion requests: waits for the generation slot, generates with an abort
 * signal tied to the client's connection, and answers with a whole completion or a stream of
 * server-sent chunks. Knows the running generations so shutdown can wait for them or abort them.
 */
export class CompletionHandler {
  private readonly running = new Set<Running>();
  private readonly defaultDrafter: string;

  constructor(private readonly services: CompletionServices) {
    this.defaultDrafter = services.generator.drafter?.name ?? 'none';
  }

  /** The 404 for a model this server does not serve. */
  unknownModel(model: string): ApiError {
    return new ApiError(
      404,
      `the model "${model}" does not exist; this server serves "${this.services.modelId}"`,
      {
        type: 'not_found_error',
        param: 'model',
        code: 'model_not_found',
      },
    );
  }

  /** Serves one chat (`chat`) or text (`text`) completion request. */
  async handle(
    kind: 'chat' | 'text',
    model: string,
    generation: GenerationRequest,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<unknown> {
    const { slot, metrics, modelId, generator } = this.services;
    if (model !== modelId) throw this.unknownModel(model);
    const arrived = performance.now();
    const controller = new AbortController();
    reply.raw.once('close', () => controller.abort(new Error(DISCONNECTED)));
    let release: () => void;
    try {
      release = await slot.acquire(controller.signal);
    } catch (error) {
      if (controller.signal.aborted) return reply.hijack();
      throw error;
    }
    let finished!: () => void;
    const entry: Running = { controller, done: new Promise((resolve) => (finished = resolve)) };
    this.running.add(entry);
    try {
      metrics.observeQueueTime((performance.now() - arrived) / 1000);
      if (controller.signal.aborted) return reply.hijack();
      const identity: ResponseIdentity = {
        id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`,
        created: Math.floor(Date.now() / 1000),
        model: modelId,
      };
      const drafter = generation.drafter ?? this.defaultDrafter;
      // A stream's time to first token is that of its first text (`streamChunks`); an unread
      // generation's that of its first verification step, which commits its first token.
      let stepped = false;
      const timeFirstStep = generation.stream
        ? {}
        : {
            onStep: () => {
              if (stepped) return;
              stepped = true;
              metrics.observeFirstToken((performance.now() - arrived) / 1000);
            },
          };
      let stream: TextGenerationStream;
      try {
        stream = generator.stream(generation.prompt, {
          ...generation.options,
          signal: controller.signal,
          ...timeFirstStep,
        });
      } catch (error) {
        throw apiErrorOf(error);
      }
      const observe = (result: TextResult) => {
        if (result.finishReason !== 'abort') {
          metrics.observeGeneration(result, (performance.now() - arrived) / 1000, drafter !== 'none');
        }
      };
      if (generation.stream) {
        const chunks = new ChunkWriter(identity, kind, generation.includeUsage);
        reply.hijack();
        await this.streamChunks(stream, chunks, drafter, { request, reply, controller, arrived, observe });
        return reply;
      }
      let result: TextResult;
      try {
        // Unread, the text is decoded once at the end instead of step by step.
        result = await stream.result;
      } catch (error) {
        throw apiErrorOf(error);
      }
      observe(result);
      // Nobody is left to answer; a generation the shutdown cut is answered with what it has.
      if (clientGone(controller.signal)) return reply.hijack();
      return kind === 'chat'
        ? chatCompletion(identity, result, drafter)
        : textCompletion(identity, result, drafter);
    } finally {
      this.running.delete(entry);
      release();
      finished();
    }
  }

  /**
   * Lets the running generation go on for up to `graceMs`, then aborts it; resolves when none is
   * left running.
   */
  async drain(graceMs: number): Promise<void> {
    const inFlight = Promise.all([...this.running].map((entry) => entry.done));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([inFlight, grace]);
    clearTimeout(timer);
    for (const entry of this.running) entry.controller.abort(new Error('the server is shutting down'));
    await inFlight;
  }

  /** Writes a generation as server-sent chunks: role, deltas, finish with the report, usage, [DONE]. */
  private async streamChunks(
    stream: TextGenerationStream,
    chunks: ChunkWriter,
    drafter: string,
    call: {
      request: FastifyRequest;
      reply: FastifyReply;
      controller: AbortController;
      arrived: number;
      observe: (result: TextResult) => void;
    },
  ): Promise<void> {
    const response = call.reply.raw;
    response.writeHead(200, SSE_HEADERS);
    const opening = chunks.opening();
    if (opening) await writeEvent(response, opening);
    try {
      let first = true;
      for await (const delta of stream) {
        if (delta.length === 0) continue;
        if (first) this.services.metrics.observeFirstToken((performance.now() - call.arrived) / 1000);
        first = false;
        if (!(await writeEvent(response, chunks.delta(delta))))
          call.controller.abort(new Error(DISCONNECTED));
      }
      const result = await stream.result;
      call.observe(result);
      await writeEvent(response, chunks.finish(result, drafter));
      const usage = chunks.usage(result);
      if (usage) await writeEvent(response, usage);
      await writeEvent(response, '[DONE]');
    } catch (error) {
      const failure = apiErrorOf(error);
      if (failure.status >= 500) call.request.log.error(error);
      await writeEvent(response, failure.body());
    }
    response.end();
  }
}
