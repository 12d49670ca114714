import {
  type Drafter,
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStats,
  SpeculativeDecoder,
  type StepEvent,
  type TargetModel,
} from '@treespec/core';
import { createVerifier, type SamplingOptions } from '@treespec/sampling';
import { type ChatMessage, type HfTokenizer, StringStopCriterion, TextStream } from '@treespec/tokenizers';

/** Options of one text generation: sampling, limits and stops. Temperature 0 (the default) is greedy. */
export interface TextGenerateOptions extends SamplingOptions {
  /** Most tokens to generate. Default 128. */
  maxTokens?: number;
  /** Strings that end the generation; they are cut from the text. The chat template's end-of-turn strings are added for chats. */
  stop?: readonly string[];
  /** Decode without the drafter (plain autoregressive decoding through the same target). Default false. */
  plain?: boolean;
  /** Aborting returns what was generated so far with finish reason `abort`. */
  signal?: AbortSignal;
  /** Called after each verification step with the tree and the accepted path. */
  onStep?: (event: StepEvent) => void;
}

/** A finished text generation. */
export interface TextResult {
  /** The generated text (prompt excluded, stop string cut). */
  text: string;
  /** The generated token ids (prompt excluded). */
  tokens: Int32Array;
  /** The prompt as encoded. */
  promptTokens: Int32Array;
  finishReason: FinishReason;
  stats: GenerationStats;
}

/** A running text generation: iterate it for text deltas; `result` settles when it ends. */
export interface TextGenerationStream extends AsyncIterable<string> {
  readonly result: Promise<TextResult>;
}

/** What a {@link TextGenerator} composes. */
export interface TextGeneratorParts {
  tokenizer: HfTokenizer;
  target: TargetModel;
  /** Null for plain decoding only. */
  drafter?: Drafter | null;
}

/**
 * Lossless speculative text generation: encodes the prompt (or renders a chat with the model's
 * template), decodes with the target, the drafter and the verifier its sampling options call for,
 * and streams text deltas that never split a character. One generation at a time.
 */
export class TextGenerator {
  readonly tokenizer: HfTokenizer;
  readonly target: TargetModel;
  readonly drafter: Drafter | null;

  constructor(parts: TextGeneratorParts) {
    this.tokenizer = parts.tokenizer;
    this.target = parts.target;
    this.drafter = parts.drafter ?? null;
  }

  /** Releases the models' sessions. */
  async dispose(): Promise<void> {
    await this.drafter?.dispose?.();
    await this.target.dispose?.();
  }

  /** Encodes a prompt the way the model's tokenizer config says, or a chat through its template. */
  encode(prompt: string | readonly ChatMessage[]): Int32Array {
    return typeof prompt === 'string'
      ? this.tokenizer.encode(prompt)
      : this.tokenizer.encodeChat([...prompt], { addGenerationPrompt: true });
  }

  /** Generates after `prompt` and returns the whole result. */
  async generate(
    prompt: string | readonly ChatMessage[],
    options: TextGenerateOptions = {},
  ): Promise<TextResult> {
    const stream = this.stream(prompt, options);
    for await (const _ of stream) {
      // deltas accumulate in the result
    }
    return stream.result;
  }

  /** Generates after `prompt`, yielding text as tokens are committed. */
  stream(prompt: string | readonly ChatMessage[], options: TextGenerateOptions = {}): TextGenerationStream {
    const promptTokens = this.encode(prompt);
    const stops = [
      ...(options.stop ?? []),
      ...(typeof prompt === 'string' ? [] : this.tokenizer.endOfTurn.stopStrings),
    ];
    const stop = stops.length > 0 ? new StringStopCriterion(this.tokenizer, stops) : null;
    const decoder = new SpeculativeDecoder({
      target: this.target,
      drafter: options.plain ? null : this.drafter,
      verifier: createVerifier({ temperature: 0, ...options }),
    });
    const decodeOptions: GenerateOptions = {
      maxTokens: options.maxTokens ?? 128,
      eosTokenIds: this.tokenizer.eosTokenIds,
      ...(stop ? { stopCriteria: [stop] } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
    };
    const tokens = decoder.stream(promptTokens, decodeOptions);
    const text = new TextStream(this.tokenizer, tokens, { context: promptTokens, stop });
    let started = false;
    let iterationDone!: () => void;
    const iterated = new Promise<void>((resolve) => {
      iterationDone = resolve;
    });
    const result = tokens.result.then(async (r: GenerationResult): Promise<TextResult> => {
      // Without a reader the buffered chunks are decoded here; with one, its text is the result's.
      if (started) await iterated;
      else await text.readAll();
      return {
        text: text.text,
        tokens: r.tokens,
        promptTokens,
        finishReason: r.finishReason,
        stats: r.stats,
      };
    });
    result.catch(() => {});
    async function* deltas(): AsyncGenerator<string, void, undefined> {
      started = true;
      try {
        yield* text;
      } finally {
        iterationDone();
      }
    }
    return { result, [Symbol.asyncIterator]: deltas };
  }
}
