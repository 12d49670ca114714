import {
  type ChatMessage,
  type ChatTokenizer,
  type Drafter,
  type DynamicTreeOptions,
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStats,
  OptionError,
  requireFunction,
  requireInteger,
  requirePromptFits,
  requireTreeShape,
  SpeculativeDecoder,
  type StepEvent,
  type TargetModel,
} from '@treespec/core';
import { createVerifier, resolveSampling, type SamplingOptions } from '@treespec/sampling';
import { StringStopCriterion, TextStream, type TokenChunks } from '@treespec/tokenizers';
import { DEFAULT_MAX_QUEUED, GenerationQueue } from './generation-queue.js';
import { checkPromptSize } from './prompt-size.js';

/** Options of one text generation: sampling, limits and stops. Temperature 0 (the default) is greedy. */
export interface TextGenerateOptions extends SamplingOptions {
  /** Most tokens to generate. Default 128. */
  maxTokens?: number;
  /**
   * Strings that end the generation (one string or several, as OpenAI's `stop`); they are cut from
   * the text. The chat template's end-of-turn strings are added for chats.
   */
  stop?: string | readonly string[];
  /** Which of the generator's drafters to use; `none` decodes plainly. Default: the generator's default. */
  drafter?: string;
  /** Decode without a drafter (plain autoregressive decoding through the same target); the same as `drafter: 'none'`. */
  plain?: boolean;
  /**
   * This generation's tree budget, over the one the drafter was loaded with, for drafters that grow
   * budgeted trees (eagle2, draft-lm). It must fit the capacity set at load. A sampling generation
   * of a drafter loaded with `draftSampling` draws sampled trees within it (and within the load's).
   */
  tree?: DynamicTreeOptions;
  /** Aborting returns what was generated so far with finish reason `abort`. */
  signal?: AbortSignal;
  /** Called after each verification step with the tree and the accepted path. */
  onStep?: (event: StepEvent) => void;
}

/** A prompt: text, a chat (rendered with the model's template), or token ids as they are. */
export type Prompt = string | readonly ChatMessage[] | Int32Array;

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

/**
 * A running text generation: iterate it for text deltas, once (a second iteration throws a
 * `TypeError`, as a locked web `ReadableStream` does); `result` settles when it ends.
 */
export interface TextGenerationStream<Result = TextResult> extends AsyncIterable<string> {
  /**
   * Settles when the generation ends, whether the deltas are read to the end, read in part or
   * not at all; its text is that of every committed token (a stop string cut out), which the
   * deltas add up to when read to the end. Breaking out of the iteration ends the generation.
   */
  readonly result: Promise<Result>;
}

/**
 * Text generation as every face of treespec offers it, in the page or across a worker: `generate`
 * resolves with the whole result, `stream` yields the text as it is committed.
 */
export interface TextGeneration<Options = TextGenerateOptions, Result = TextResult> {
  generate(prompt: string | readonly ChatMessage[], options?: Options): Promise<Result>;
  stream(prompt: string | readonly ChatMessage[], options?: Options): TextGenerationStream<Result>;
}

/** What a {@link TextGenerator} composes. */
export interface TextGeneratorParts {
  tokenizer: ChatTokenizer;
  target: TargetModel;
  /** The drafter to use by default; null or absent for plain decoding. */
  drafter?: Drafter | null;
  /** Drafters selectable by name per generation (the default one included or not). */
  drafters?: Readonly<Record<string, Drafter>>;
  /** Name in `drafters` of the default drafter, when `drafter` is not given. */
  defaultDrafter?: string | null;
  /**
   * Most generations that may wait behind the running one. Default 32. A generator over the
   * target of another shares that one's queue, and a call to it is refused when this many wait
   * in that queue, whichever generator asked for them.
   */
  maxQueued?: number;
  /**
   * The drafter to use in place of `drafter` for a generation that asks for its own tree budget
   * (`TextGenerateOptions.tree`); without it such generations are refused. `sampling` says whether
   * the generation samples (temperature above 0), so that a greedy one builds no sampled drafter.
   */
  withTree?: (drafter: Drafter, tree: DynamicTreeOptions, sampling: boolean) => Drafter;
}

/**
 * The queue of each target's generations, shared by every generator over that target (one composed
 * from another's `target`, as the README shows): the target holds one KV cache, so their
 * generations wait in one line.
 */
const targetQueues = new WeakMap<TargetModel, GenerationQueue>();

/**
 * Lossless speculative text generation: encodes the prompt (or renders a chat with the model's
 * template), decodes with the target, the drafter and the verifier its sampling options call for,
 * and streams text deltas that never split a character. One generation runs at a time on a
 * target; calls made meanwhile, on this generator or another over the same target, wait their
 * turn in order (see {@link GenerationQueue}).
 */
export class TextGenerator implements TextGeneration {
  readonly tokenizer: ChatTokenizer;
  readonly target: TargetModel;
  /** The default drafter (null: plain decoding). */
  readonly drafter: Drafter | null;
  /** Every drafter by name, the default one included. */
  readonly drafters: Readonly<Record<string, Drafter>>;
  private readonly queue: GenerationQueue;
  private readonly maxQueued: number;
  private readonly withTree: TextGeneratorParts['withTree'];

  constructor(parts: TextGeneratorParts) {
    this.tokenizer = parts.tokenizer;
    this.target = parts.target;
    this.withTree = parts.withTree;
    const named = parts.drafters ?? {};
    const byDefault = parts.defaultDrafter ? named[parts.defaultDrafter] : undefined;
    if (parts.defaultDrafter && !byDefault) {
      throw new OptionError(
        'defaultDrafter',
        parts.defaultDrafter,
        `one of ${Object.keys(named).join(', ') || '(no drafters)'}`,
      );
    }
    this.drafter = parts.drafter ?? byDefault ?? null;
    this.drafters = this.drafter ? { [this.drafter.name]: this.drafter, ...named } : { ...named };
    this.maxQueued = requireInteger('maxQueued', parts.maxQueued ?? DEFAULT_MAX_QUEUED, 0);
    const shared = targetQueues.get(this.target);
    this.queue =
      shared && !shared.isClosed
        ? shared.share('another generator over its target model')
        : new GenerationQueue('this generator', this.maxQueued);
    targetQueues.set(this.target, this.queue);
  }

  /**
   * Releases the models' sessions, after ending the waiting generations and aborting the running
   * one; later calls throw a `DisposedError`.
   */
  async dispose(): Promise<void> {
    await this.queue.close();
    for (const d of new Set(Object.values(this.drafters))) await d.dispose?.();
    await this.target.dispose?.();
  }

  /** The drafter a generation with these options uses (null: plain decoding). */
  drafterFor(
    options: Pick<TextGenerateOptions, 'drafter' | 'plain' | 'tree' | 'temperature'>,
  ): Drafter | null {
    if (options.plain || options.drafter === 'none') return null;
    const found = options.drafter === undefined ? this.drafter : this.drafters[options.drafter];
    if (found === undefined) {
      throw new OptionError(
        'drafter',
        options.drafter,
        `one of none, ${Object.keys(this.drafters).join(', ')} (the drafters this generator loaded)`,
      );
    }
    if (!options.tree || !found) return found;
    if (!this.withTree) {
      throw new OptionError('tree', options.tree, 'absent: this generator was composed without tree budgets');
    }
    // Whether it samples, by the rule its verifier will follow (tiny temperatures decode greedily).
    const sampling = resolveSampling({ temperature: options.temperature ?? 0 }).temperature > 0;
    return this.withTree(found, options.tree, sampling);
  }

  /**
   * Encodes a prompt the way the model's tokenizer config says, or a chat through its template;
   * token ids are taken as they are, once the tokenizer has checked them (`checkIds`).
   */
  encode(prompt: Prompt): Int32Array {
    if (typeof prompt !== 'string' && !Array.isArray(prompt) && !(prompt instanceof Int32Array)) {
      throw new OptionError('prompt', prompt, PROMPT_KINDS);
    }
    if (Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] === 'number') {
      throw new OptionError('prompt', prompt, `${PROMPT_KINDS} (Int32Array.from(ids) for token ids)`);
    }
    if (prompt instanceof Int32Array) {
      this.tokenizer.checkIds?.(prompt);
      return prompt;
    }
    checkPromptSize(prompt, this.target.maxContext);
    return typeof prompt === 'string'
      ? this.tokenizer.encode(prompt)
      : this.tokenizer.encodeChat([...prompt], { addGenerationPrompt: true });
  }

  /**
   * Generates after `prompt` and returns the whole result. Nothing streams the text, so it is
   * decoded once, at the end, rather than step by step.
   */
  async generate(prompt: Prompt, options: TextGenerateOptions = {}): Promise<TextResult> {
    return this.stream(prompt, options).result;
  }

  /** Generates after `prompt`, yielding text as tokens are committed. */
  stream(prompt: Prompt, options: TextGenerateOptions = {}): TextGenerationStream {
    checkGenerateOptions(options);
    const promptTokens = this.encode(prompt);
    // Checked here as well as by the decoder, so that a caller learns it before the stream starts
    // (a server, before it sends a stream's headers).
    requirePromptFits(promptTokens.length, this.target.maxContext);
    const isChat = typeof prompt !== 'string' && !(prompt instanceof Int32Array);
    const given = typeof options.stop === 'string' ? [options.stop] : (options.stop ?? []);
    const stops = [...given, ...(isChat ? this.tokenizer.endOfTurn.stopStrings : [])];
    const stop = stops.length > 0 ? new StringStopCriterion(this.tokenizer, stops) : null;
    const decoder = new SpeculativeDecoder({
      target: this.target,
      drafter: this.drafterFor(options),
      verifier: createVerifier({ ...options, temperature: options.temperature ?? 0 }),
    });
    const decodeOptions: GenerateOptions = {
      maxTokens: options.maxTokens ?? 128,
      eosTokenIds: this.tokenizer.eosTokenIds,
      ...(stop ? { stopCriteria: [stop] } : {}),
      ...(options.onStep ? { onStep: options.onStep } : {}),
    };
    const tokens = this.queue.stream(
      promptTokens.length,
      options.signal,
      (signal) => decoder.stream(promptTokens, { ...decodeOptions, signal }),
      this.maxQueued,
    );
    const textOptions = { context: promptTokens, stop };
    const text = new TextStream(this.tokenizer, tokens, textOptions);
    let readerStarted = false;
    let readerFinished = false;
    /** The whole text, where the result decoded the buffered chunks before any reader came. */
    let decodedWhole: Promise<string> | null = null;
    const result = tokens.result.then(async (r: GenerationResult): Promise<TextResult> => {
      // Without a reader the buffered chunks are decoded here, once; a reader that comes later
      // gets that text as one delta. A reader that read to the end holds the text; one still
      // reading, or one that stopped, may never finish, so the result decodes its tokens on its
      // own rather than wait for it.
      if (!readerStarted) decodedWhole = text.readAll();
      const generated = readerFinished
        ? text.text
        : decodedWhole
          ? await decodedWhole
          : await new TextStream(
              this.tokenizer,
              committedAtOnce(r.tokens, tokens.result),
              textOptions,
            ).readAll();
      return {
        text: generated,
        tokens: r.tokens,
        promptTokens,
        finishReason: r.finishReason,
        stats: r.stats,
      };
    });
    result.catch(() => {});
    async function* deltas(): AsyncGenerator<string, void, undefined> {
      if (readerStarted) throw new TypeError('a text stream can be iterated only once');
      readerStarted = true;
      if (decodedWhole) {
        const whole = await decodedWhole;
        if (whole.length > 0) yield whole;
      } else yield* text;
      readerFinished = true;
    }
    return { result, [Symbol.asyncIterator]: deltas };
  }
}

/** What a prompt may be, for errors. */
const PROMPT_KINDS = 'text, chat messages ({ role, content } objects) or token ids as an Int32Array';

/**
 * Checks the shapes of a generation's options that nothing later checks before the generation
 * runs: the options object, `stop`, `onStep` and `tree` (sampling options are checked by the
 * verifier, `tree`'s fields by the drafter's budget, `signal` by the queue).
 */
function checkGenerateOptions(options: TextGenerateOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError('options', options, 'an object of generation options, or nothing');
  }
  const { stop, onStep, tree } = options;
  if (stop !== undefined && typeof stop !== 'string' && !Array.isArray(stop)) {
    throw new OptionError('stop', stop, 'a string or an array of strings');
  }
  requireFunction('onStep', onStep, 'a function called after each step');
  requireTreeShape('tree', tree);
}

/** A generation's committed tokens as one chunk, with its result (which decides a stop string's cut). */
function committedAtOnce(tokens: Int32Array, result: Promise<GenerationResult>): TokenChunks {
  return {
    result,
    async *[Symbol.asyncIterator]() {
      yield { tokens };
    },
  };
}
