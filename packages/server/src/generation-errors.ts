import { OptionError, TreespecError } from '@treespec/core';
import { ApiError } from './api-error.js';

const OPTION_PARAMS: Readonly<Record<string, string>> = {
  temperature: 'temperature',
  topP: 'top_p',
  topK: 'top_k',
  minP: 'min_p',
  repetitionPenalty: 'repetition_penalty',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
  seed: 'seed',
  maxTokens: 'max_tokens',
  stop: 'stop',
  drafter: 'treespec.drafter',
  tree: 'treespec.tree',
};

/**
 * The HTTP error for an error the generator threw: the request's fault (a bad option, a prompt
 * the tokenizer or chat template refuses, a prompt longer than the context) is a 400; a busy
 * generator a 503; anything else a 500 that says no more than that generation failed.
 */
export function apiErrorOf(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof OptionError) {
    return new ApiError(400, error.message, {
      param: OPTION_PARAMS[error.option] ?? error.option,
      code: 'invalid_value',
    });
  }
  if (error instanceof TreespecError) {
    switch (error.code) {
      case 'INVALID_OPTION':
      case 'TOKENIZER':
        return new ApiError(400, error.message, { code: 'invalid_value' });
      case 'CONTEXT_OVERFLOW':
        return new ApiError(400, error.message, { code: 'context_length_exceeded' });
      case 'BUSY':
        return new ApiError(503, error.message, { type: 'service_unavailable_error', code: 'busy' });
      default:
        break;
    }
  }
  return new ApiError(500, 'the generation failed; the server log has the details', {
    code: 'generation_failed',
  });
}
