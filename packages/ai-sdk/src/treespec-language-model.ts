import type {
  JSONObject,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4FinishReason,
  LanguageModelV4GenerateResult,
  LanguageModelV4StreamPart,
  LanguageModelV4StreamResult,
  LanguageModelV4Usage,
  SharedV4Warning,
} from '@ai-sdk/provider';
import { type PromptFormat, toEnginePrompt } from './prompt-conversion.js';
import { abortError, lockOf, type SerialLock } from './serial-lock.js';
import type { EngineGenerateOptions, EngineResult, EngineStream, TreespecEngine } from './treespec-engine.js';

/** Settings of a treespec language model. */
export interface TreespecModelSettings {
  /** The id the AI SDK reports for this model. Default `treespec`. */
  modelId?: string;
  /** `chat` (default) renders messages with the model's chat template; `text` joins them as plain text. */
  promptFormat?: PromptFormat;
  /** The drafter of every call (`none`: plain decoding). Default: the engine's. */
  drafter?: string;
  /** `maxOutputTokens` of a call that gives none. Default 256. */
  defaultMaxTokens?: number;
}

function finishReason(result: EngineResult): LanguageModelV4FinishReason {
  const unified =
    result.finishReason === 'eos' || result.finishReason === 'stop'
      ? 'stop'
      : result.finishReason === 'abort'
        ? 'other'
        : 'length';
  return { unified, raw: result.finishReason };
}

function usage(result: EngineResult): LanguageModelV4Usage {
  const input = typeof result.promptTokens === 'number' ? result.promptTokens : result.promptTokens.length;
  return {
    inputTokens: {
      total: input,
      noCache: input,
      cacheRead: 0,
      cacheWrite: 0,
    },
    outputTokens: { total: result.tokens.length, text: result.tokens.length, reasoning: 0 },
  };
}

function speculation(result: EngineResult): { treespec: JSONObject } {
  const s = result.stats;
  return {
    treespec: {
      finishReason: result.finishReason,
      tau: s.tau,
      acceptanceByDepth: s.acceptanceByDepth,
      steps: s.steps,
      targetCalls: s.targetCalls,
      meanTreeSize: s.meanTreeSize,
      tokensPerSecond: s.tokensPerSecond,
      totalMs: s.totalMs,
    },
  };
}

/**
 * An own abort controller that follows the call's signal, so that cancelling a stream can abort
 * the generation too. Throws the call's abort error at once when its signal has already aborted.
 */
function follow(signal: AbortSignal | undefined) {
  if (signal?.aborted) throw abortError(signal);
  const controller = new AbortController();
  const forward = () => controller.abort(abortError(signal!));
  signal?.addEventListener('abort', forward, { once: true });
  return { controller, unfollow: () => signal?.removeEventListener('abort', forward) };
}

/**
 * A Vercel AI SDK language model (specification v4) over a treespec engine, in-process: lossless
 * speculative decoding behind `generateText` and `streamText`. Calls on one engine (from any
 * model over it) run one at a time, in the order the AI SDK calls `doGenerate`/`doStream`.
 */
export class TreespecLanguageModel implements LanguageModelV4 {
  readonly specificationVersion = 'v4';
  readonly provider = 'treespec';
  readonly modelId: string;
  readonly supportedUrls: Record<string, RegExp[]> = {};
  private readonly lock: SerialLock;

  constructor(
    private readonly engine: TreespecEngine,
    private readonly settings: TreespecModelSettings = {},
  ) {
    this.modelId = settings.modelId ?? 'treespec';
    this.lock = lockOf(engine);
  }

  private prepare(options: LanguageModelV4CallOptions) {
    const warnings: SharedV4Warning[] = [];
    if (options.tools && options.tools.length > 0)
      warnings.push({ type: 'unsupported', feature: 'tools', details: 'treespec generates free text' });
    if (options.responseFormat && options.responseFormat.type !== 'text') {
      warnings.push({
        type: 'unsupported',
        feature: 'responseFormat',
        details: 'treespec generates free text',
      });
    }
    const generate: EngineGenerateOptions = {
      maxTokens: options.maxOutputTokens ?? this.settings.defaultMaxTokens ?? 256,
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topP !== undefined ? { topP: options.topP } : {}),
      ...(options.topK !== undefined ? { topK: options.topK } : {}),
      ...(options.presencePenalty !== undefined ? { presencePenalty: options.presencePenalty } : {}),
      ...(options.frequencyPenalty !== undefined ? { frequencyPenalty: options.frequencyPenalty } : {}),
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.stopSequences && options.stopSequences.length > 0 ? { stop: options.stopSequences } : {}),
      ...(this.settings.drafter !== undefined ? { drafter: this.settings.drafter } : {}),
    };
    return {
      prompt: toEnginePrompt(options.prompt, this.settings.promptFormat ?? 'chat'),
      generate,
      warnings,
    };
  }

  /**
   * Generates the whole text. Rejects with the abort error (the signal's reason) when
   * `abortSignal` aborts: at once, generating nothing, when it had aborted before the call or
   * aborts while the call waits its turn.
   */
  async doGenerate(options: LanguageModelV4CallOptions): Promise<LanguageModelV4GenerateResult> {
    const { prompt, generate, warnings } = this.prepare(options);
    const { controller, unfollow } = follow(options.abortSignal);
    try {
      const release = await this.lock.acquire(controller.signal);
      try {
        if (controller.signal.aborted) throw abortError(controller.signal);
        // Unread, the stream decodes its text once at the end instead of step by step.
        const result = await this.engine.stream(prompt, { ...generate, signal: controller.signal }).result;
        if (controller.signal.aborted) throw abortError(controller.signal);
        return {
          content: [{ type: 'text', text: result.text }],
          finishReason: finishReason(result),
          usage: usage(result),
          providerMetadata: speculation(result),
          response: { modelId: this.modelId, timestamp: new Date() },
          warnings,
        };
      } finally {
        release();
      }
    } finally {
      unfollow();
    }
  }

  /**
   * Streams text deltas as the engine commits tokens. Aborting `abortSignal` (or cancelling the
   * stream) aborts the generation, and the stream errors with the abort error (the signal's
   * reason); a call that waits its turn leaves the queue at once. Rejects with that error, starting
   * nothing, when `abortSignal` had aborted before the call. The engine is free for the next call
   * once the generation ends, whether or not the stream is read on: one nobody reads (a caller
   * that breaks out of `streamText`'s `textStream`) runs to its end (`maxOutputTokens` at most).
   */
  async doStream(options: LanguageModelV4CallOptions): Promise<LanguageModelV4StreamResult> {
    const { prompt, generate, warnings } = this.prepare(options);
    const { controller, unfollow } = follow(options.abortSignal);
    const modelId = this.modelId;
    const engine = this.engine;
    const lock = this.lock;
    let release: (() => void) | null = null;
    let engineStream: EngineStream | null = null;
    let deltas: AsyncIterator<string> | null = null;
    const free = () => {
      release?.();
      release = null;
    };
    const finish = () => {
      unfollow();
      free();
    };
    const stream = new ReadableStream<LanguageModelV4StreamPart>({
      async start(sink) {
        sink.enqueue({ type: 'stream-start', warnings });
        try {
          release = await lock.acquire(controller.signal);
          if (controller.signal.aborted) throw abortError(controller.signal);
          engineStream = engine.stream(prompt, { ...generate, signal: controller.signal });
          deltas = engineStream[Symbol.asyncIterator]();
        } catch (error) {
          finish();
          throw error;
        }
        // Free the engine when the generation ends, even if nobody reads on: the AI SDK neither
        // pulls nor cancels a stream whose text stream a caller broke out of.
        engineStream.result.then(free, free);
        sink.enqueue({ type: 'response-metadata', modelId, timestamp: new Date() });
        sink.enqueue({ type: 'text-start', id: '0' });
      },
      async pull(sink) {
        if (!deltas || !engineStream) return;
        try {
          const next = await deltas.next();
          if (!next.done) {
            if (next.value.length > 0) sink.enqueue({ type: 'text-delta', id: '0', delta: next.value });
            return;
          }
          const result = await engineStream.result;
          finish();
          if (controller.signal.aborted) {
            sink.error(abortError(controller.signal));
            return;
          }
          sink.enqueue({ type: 'text-end', id: '0' });
          sink.enqueue({
            type: 'finish',
            finishReason: finishReason(result),
            usage: usage(result),
            providerMetadata: speculation(result),
          });
          sink.close();
        } catch (error) {
          finish();
          sink.error(error);
        }
      },
      async cancel(reason) {
        controller.abort(reason);
        // End the iteration before awaiting the result, for an engine whose result waits for a
        // reader that started to finish (as TextGenerator's once did).
        await deltas?.return?.().catch(() => undefined);
        await engineStream?.result.catch(() => undefined);
        finish();
      },
    });
    return { stream };
  }
}
