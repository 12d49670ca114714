import type { Prompt, TextGenerateOptions } from '@treespec/generator';
import { ApiError, invalidParam } from './api-error.js';
import type { ChatCompletionRequest, ChatMessageInput, CompletionRequest } from './request-schema.js';

/** The limits a server puts on each request. */
export interface RequestLimits {
  /** Largest `max_tokens` a request may ask for. */
  readonly maxTokensLimit: number;
  /** `max_tokens` of a request that gives none. */
  readonly defaultMaxTokens: number;
  /** Drafter names a request may pick with `treespec.drafter` (`none` is always allowed). */
  readonly drafters: readonly string[];
  /** Token ids a prompt may hold are below this. */
  readonly vocabSize: number;
}

/** What one validated request asks the generator for. */
export interface GenerationRequest {
  readonly prompt: Prompt;
  /** The generation options, `signal` excepted (the server adds it). */
  readonly options: TextGenerateOptions;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  /** The drafter the generation uses (`none`: plain decoding; null: the generator's default). */
  readonly drafter: string | null;
}

function messageText(message: ChatMessageInput): string {
  if (message.content === null) return '';
  if (typeof message.content === 'string') return message.content;
  return message.content.map((part) => part.text).join('');
}

/**
 * Whether a request streams and asks for a usage chunk. `stream_options` is only allowed with
 * `stream: true`, as OpenAI has it: with `stream` false or absent it is a 400.
 */
function streaming(request: ChatCompletionRequest | CompletionRequest): {
  stream: boolean;
  includeUsage: boolean;
} {
  const stream = request.stream === true;
  if (request.stream_options != null && !stream) {
    throw invalidParam(
      'stream_options',
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
    );
  }
  return { stream, includeUsage: request.stream_options?.include_usage === true };
}

function sharedOptions(
  request: ChatCompletionRequest | CompletionRequest,
  maxTokens: number | null | undefined,
  maxTokensParam: string,
  limits: RequestLimits,
): { options: TextGenerateOptions; drafter: string | null } {
  const tokens = maxTokens ?? limits.defaultMaxTokens;
  if (tokens > limits.maxTokensLimit) {
    throw invalidParam(
      maxTokensParam,
      `${maxTokensParam} is ${tokens}, more than this server allows per request (${limits.maxTokensLimit})`,
    );
  }
  const drafter = request.treespec?.drafter ?? null;
  if (drafter !== null && drafter !== 'none' && !limits.drafters.includes(drafter)) {
    throw new ApiError(
      400,
      `treespec.drafter "${drafter}" is not loaded; this server has: none, ${limits.drafters.join(', ')}`,
      {
        param: 'treespec.drafter',
        code: 'unknown_drafter',
      },
    );
  }
  const stop =
    request.stop == null ? undefined : typeof request.stop === 'string' ? [request.stop] : request.stop;
  const options: TextGenerateOptions = {
    maxTokens: tokens,
    temperature: request.temperature ?? 1,
    ...(request.top_p != null ? { topP: request.top_p } : {}),
    ...(request.seed != null ? { seed: request.seed } : {}),
    ...(stop && stop.length > 0 ? { stop } : {}),
    ...(request.presence_penalty != null ? { presencePenalty: request.presence_penalty } : {}),
    ...(request.frequency_penalty != null ? { frequencyPenalty: request.frequency_penalty } : {}),
    ...(request.top_k != null && request.top_k > 0 ? { topK: request.top_k } : {}),
    ...(request.min_p != null ? { minP: request.min_p } : {}),
    ...(request.repetition_penalty != null ? { repetitionPenalty: request.repetition_penalty } : {}),
    ...(drafter !== null ? { drafter } : {}),
    ...(request.treespec?.tree ? { tree: request.treespec.tree } : {}),
  };
  return { options, drafter };
}

/** Maps a chat completion request to a chat prompt (rendered by the model's template) and options. */
export function chatGeneration(request: ChatCompletionRequest, limits: RequestLimits): GenerationRequest {
  if (request.max_tokens != null && request.max_completion_tokens != null) {
    throw invalidParam('max_tokens', 'give max_tokens or max_completion_tokens, not both');
  }
  const param = request.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const { options, drafter } = sharedOptions(
    request,
    request.max_completion_tokens ?? request.max_tokens,
    param,
    limits,
  );
  const prompt = request.messages.map((message) => ({
    role: message.role === 'developer' ? 'system' : message.role,
    content: messageText(message),
  }));
  return {
    prompt,
    options,
    ...streaming(request),
    drafter,
  };
}

/** Maps a text completion request to its prompt (text, or token ids as given) and options. */
export function completionGeneration(request: CompletionRequest, limits: RequestLimits): GenerationRequest {
  const { options, drafter } = sharedOptions(request, request.max_tokens, 'max_tokens', limits);
  const given = request.prompt;
  const single =
    Array.isArray(given) && (typeof given[0] === 'string' || Array.isArray(given[0])) ? given[0]! : given;
  if (typeof single === 'string' && single.length === 0)
    throw invalidParam('prompt', 'prompt must not be empty');
  if (typeof single !== 'string') {
    // Checked as given: as 32-bit integers, ids of 2^32 and more would wrap into the vocabulary.
    const ids = single as readonly number[];
    const bad = ids.findIndex((id) => id >= limits.vocabSize);
    if (bad >= 0) {
      throw invalidParam(
        'prompt',
        `prompt token ${bad} is ${ids[bad]}, outside the vocabulary [0, ${limits.vocabSize})`,
      );
    }
  }
  const prompt = typeof single === 'string' ? single : Int32Array.from(single as number[]);
  return {
    prompt,
    options,
    ...streaming(request),
    drafter,
  };
}
