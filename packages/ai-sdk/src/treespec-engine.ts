/** A chat message as a chat template renders it. */
export interface EngineChatMessage {
  role: string;
  content: string;
  /** Further fields a chat template may read. */
  [key: string]: unknown;
}

/** The generation options the provider passes (a subset of `TextGenerateOptions`). */
export interface EngineGenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  stop?: readonly string[];
  /** One of the engine's drafters, or `none` for plain decoding. */
  drafter?: string;
  signal?: AbortSignal;
}

/** Why a generation ended, as treespec reports it. */
export type EngineFinishReason = 'length' | 'eos' | 'stop' | 'abort' | 'context';

/** The statistics the provider reports under `providerMetadata.treespec`. */
export interface EngineStats {
  tau: number;
  acceptanceByDepth: number[];
  steps: number;
  targetCalls: number;
  meanTreeSize: number;
  tokensPerSecond: number;
  totalMs: number;
}

/** A finished generation. */
export interface EngineResult {
  text: string;
  tokens: ArrayLike<number>;
  /**
   * The prompt as encoded, or its length: `TextGenerator` gives the tokens, the browser worker
   * client (`WorkerResult`) their count. Either is the call's input token count.
   */
  promptTokens: ArrayLike<number> | number;
  finishReason: EngineFinishReason;
  stats: EngineStats;
}

/** A running generation: iterate it for text deltas; `result` settles when it ends. */
export interface EngineStream extends AsyncIterable<string> {
  /**
   * Settles when the generation ends, whether its deltas are read to the end, in part or not at
   * all (as `TextGenerator`'s and the worker client's do). The provider frees the engine for the
   * next call then, and reads any deltas left after: a result that waited for its reader would
   * hold every later call while a reader stopped reading (a caller that breaks out of
   * `streamText`'s `textStream`).
   */
  readonly result: Promise<EngineResult>;
}

/**
 * What the provider drives: a `TextGenerator` from `@treespec/generator` (Node, via
 * `loadTreespec`) is one, and so is the browser worker client, which offers the same `stream`.
 * A chat prompt is rendered with the model's chat template; a string prompt is encoded as is.
 * `stream` may throw at once, for an option it refuses. The provider starts one generation at a
 * time on an engine.
 */
export interface TreespecEngine {
  stream(prompt: string | readonly EngineChatMessage[], options?: EngineGenerateOptions): EngineStream;
}
