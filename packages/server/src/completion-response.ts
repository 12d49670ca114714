import type { FinishReason, GenerationStats } from '@treespec/core';
import type { TextResult } from '@treespec/generator';

/**
 * OpenAI's finish reasons: `stop` for an end-of-sequence token or a stop string, `length` for a
 * limit (`max_tokens`, the context window); and vLLM's `abort` for a generation the server's
 * shutdown cut short, which no limit ended.
 */
export type OpenAiFinishReason = 'stop' | 'length' | 'abort';

/** Maps treespec's finish reason to OpenAI's. */
export function openAiFinishReason(reason: FinishReason): OpenAiFinishReason {
  if (reason === 'abort') return 'abort';
  return reason === 'eos' || reason === 'stop' ? 'stop' : 'length';
}

/** OpenAI's `usage` object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** The speculation statistics of one response, under its `treespec` key. */
export interface SpeculationReport {
  /** The drafter that proposed the trees (`none`: plain decoding). */
  drafter: string;
  /** Mean tokens committed per verification step, bonus included. */
  tau: number;
  /** Conditional acceptance rate per draft depth (index 0: depth 1). */
  acceptance_by_depth: number[];
  /** `accepted_lengths[k]`: steps that accepted exactly k drafted tokens. */
  accepted_lengths: number[];
  /** Verification steps. */
  steps: number;
  /** Target forward passes (prefill included). */
  target_calls: number;
  /** Mean nodes per verified tree, root included. */
  mean_tree_size: number;
  /** Generated tokens per second of decoding. */
  tokens_per_second: number;
  prefill_ms: number;
  draft_ms: number;
  verify_ms: number;
  total_ms: number;
}

/** The usage object of a result. */
export function usageOf(result: TextResult): Usage {
  const prompt = result.promptTokens.length;
  const completion = result.tokens.length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The `treespec` object of a response: what speculation did and the inputs of its speed-up. */
export function speculationReport(drafter: string, stats: GenerationStats): SpeculationReport {
  return {
    drafter,
    tau: stats.tau,
    acceptance_by_depth: stats.acceptanceByDepth,
    accepted_lengths: stats.acceptedLengths,
    steps: stats.steps,
    target_calls: stats.targetCalls,
    mean_tree_size: stats.meanTreeSize,
    tokens_per_second: stats.tokensPerSecond,
    prefill_ms: stats.prefillMs,
    draft_ms: stats.draftMs,
    verify_ms: stats.verifyMs,
    total_ms: stats.totalMs,
  };
}

/** Identity of one response: its id, creation time (Unix seconds) and model. */
export interface ResponseIdentity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

/** A whole `chat.completion` object. */
export function chatCompletion(identity: ResponseIdentity, result: TextResult, drafter: string) {
  return {
    id: identity.id,
    object: 'chat.completion' as const,
    created: identity.created,
    model: identity.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: result.text, refusal: null },
        logprobs: null,
        finish_reason: openAiFinishReason(result.finishReason),
      },
    ],
    usage: usageOf(result),
    treespec: speculationReport(drafter, result.stats),
  };
}

/** A whole `text_completion` object. */
export function textCompletion(identity: ResponseIdentity, result: TextResult, drafter: string) {
  return {
    id: identity.id,
    object: 'text_completion' as const,
    created: identity.created,
    model: identity.model,
    choices: [
      { index: 0, text: result.text, logprobs: null, finish_reason: openAiFinishReason(result.finishReason) },
    ],
    usage: usageOf(result),
    treespec: speculationReport(drafter, result.stats),
  };
}

/** Builds the server-sent chunks of one streamed response, chat or text. */
export class ChunkWriter {
  constructor(
    private readonly identity: ResponseIdentity,
    private readonly kind: 'chat' | 'text',
    private readonly includeUsage: boolean,
  ) {}

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}) {
    return {
      id: this.identity.id,
      object: this.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created: this.identity.created,
      model: this.identity.model,
      choices,
      ...(this.includeUsage ? { usage: null } : {}),
      ...extra,
    };
  }

  /** The first chunk of a chat stream (the assistant role, no text); null for text completions. */
  opening(): object | null {
    if (this.kind !== 'chat') return null;
    return this.chunk([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]);
  }

  /** A chunk carrying a text delta. */
  delta(text: string): object {
    return this.kind === 'chat'
      ? this.chunk([{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }])
      : this.chunk([{ index: 0, text, logprobs: null, finish_reason: null }]);
  }

  /** The chunk with the finish reason and the `treespec` speculation report. */
  finish(result: TextResult, drafter: string): object {
    const finish_reason = openAiFinishReason(result.finishReason);
    const choice =
      this.kind === 'chat'
        ? { index: 0, delta: {}, logprobs: null, finish_reason }
        : { index: 0, text: '', logprobs: null, finish_reason };
    return this.chunk([choice], { treespec: speculationReport(drafter, result.stats) });
  }

  /** The usage chunk `stream_options.include_usage` asks for (no choices); null when not asked. */
  usage(result: TextResult): object | null {
    if (!this.includeUsage) return null;
    return { ...this.chunk([]), usage: usageOf(result) };
  }
}
