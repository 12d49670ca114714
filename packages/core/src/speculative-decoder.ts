import { ChunkChannel } from './chunk-channel.js';
import { DraftTree } from './draft-tree.js';
import type { DraftContext, Drafter } from './drafter.js';
import { BusyError, ContextOverflowError, ContractError, OptionError } from './errors.js';
import { type GenerationStats, StatsRecorder } from './generation-stats.js';
import { KeepPlan, planKeep } from './keep-plan.js';
import {
  EosStop,
  type FinishReason,
  type StopCriterion,
  type StopMatch,
  TokenSequenceStop,
} from './stop-criteria.js';
import type { TargetModel } from './target-model.js';
import { requireInteger } from './validate.js';
import { type Verifier, VerifyResult } from './verifier.js';

/** The parts a {@link SpeculativeDecoder} composes. */
export interface DecoderParts {
  /** The model whose output is reproduced. */
  target: TargetModel;
  /** Proposes draft trees; null or absent for plain autoregressive decoding. */
  drafter?: Drafter | null;
  /** Accepts or rejects drafted tokens (greedy or stochastic). */
  verifier: Verifier;
}

/** One verification step, as shown to `onStep` (for visualisation and tracing). */
export interface StepEvent {
  /** Step number, from 0. */
  readonly step: number;
  /** The verified tree; reused by the next step, so copy what you keep. */
  readonly tree: DraftTree;
  /** Accepted tree slots, root first. */
  readonly path: Int32Array;
  readonly pathLength: number;
  /** The target's token after the accepted path. */
  readonly bonusToken: number;
}

/** Options of one generation. */
export interface GenerateOptions {
  /** Most tokens to generate. Default 128; 0 returns at once. */
  maxTokens?: number;
  /** Tokens that end the generation (kept in the output). */
  eosTokenIds?: readonly number[];
  /** Token sequences that end the generation (dropped from the output). */
  stopSequences?: readonly (readonly number[])[];
  /** Further stop criteria, e.g. string stop sequences from `@treespec/tokenizers`. */
  stopCriteria?: readonly StopCriterion[];
  /** Aborting returns what was committed so far with finish reason `abort`. */
  signal?: AbortSignal;
  /** Called after each verification step, synchronously. */
  onStep?: (event: StepEvent) => void;
}

/** What a generation returns. */
export interface GenerationResult {
  /** Generated token ids (prompt excluded). */
  tokens: Int32Array;
  finishReason: FinishReason;
  /** The stop criterion that ended the generation and where it matched (absent for other reasons). */
  stop?: { criterion: StopCriterion; match: StopMatch };
  stats: GenerationStats;
}

/** Tokens committed by one step, as streamed. */
export interface GenerationChunk {
  /** Newly committed tokens that can no longer be taken back. */
  tokens: Int32Array;
  /** Step that committed them. */
  step: number;
}

/** A running generation: iterate it for chunks; `result` settles when it ends. */
export interface GenerationStream extends AsyncIterable<GenerationChunk> {
  readonly result: Promise<GenerationResult>;
}

const now = (): number => performance.now();

/**
 * Lossless speculative decoding: prefill, then repeat draft → verify → commit until a stop.
 * With a greedy verifier the output is token for token that of plain greedy decoding of the
 * target; with a stochastic verifier it is distributed exactly as the target's own sampling.
 * One generation at a time per decoder; it can generate again after an abort or an error.
 */
export class SpeculativeDecoder {
  readonly target: TargetModel;
  readonly drafter: Drafter | null;
  readonly verifier: Verifier;
  private readonly tree: DraftTree;
  private readonly result: VerifyResult;
  private readonly plan: KeepPlan;
  private pendingFeatures = new Float32Array(0);
  private busy = false;

  constructor(parts: DecoderParts) {
    this.target = parts.target;
    this.drafter = parts.drafter ?? null;
    this.verifier = parts.verifier;
    const capacity = this.drafter ? requireInteger('drafter.maxTreeSize', this.drafter.maxTreeSize, 1) : 1;
    const verifiable = this.target.maxTreeSize;
    if (verifiable !== undefined && capacity > verifiable) {
      throw new ContractError(
        `the ${this.drafter?.name} drafter grows trees of up to ${capacity} nodes, but the target verifies at most ` +
          `${verifiable} per call; give the target a larger maxTreeSize or the drafter a smaller budget`,
      );
    }
    this.tree = new DraftTree(capacity);
    this.result = new VerifyResult(capacity);
    this.plan = new KeepPlan(capacity);
  }

  /** Generates after `prompt` (token ids, e.g. starting with BOS) and returns the whole result. */
  async generate(prompt: ArrayLike<number>, options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.run(prompt, options, null, { cancelled: false });
  }

  /** Generates after `prompt`, yielding tokens as they are committed. */
  stream(prompt: ArrayLike<number>, options: GenerateOptions = {}): GenerationStream {
    const cancel = { cancelled: false };
    const channel = new ChunkChannel<GenerationChunk>(() => {
      cancel.cancelled = true;
    });
    const result = this.run(prompt, options, channel, cancel).then(
      (r) => {
        channel.close();
        return r;
      },
      (e: unknown) => {
        channel.fail(e);
        throw e;
      },
    );
    result.catch(() => {});
    return { result, [Symbol.asyncIterator]: () => channel[Symbol.asyncIterator]() };
  }

  private async run(
    promptIds: ArrayLike<number>,
    options: GenerateOptions,
    channel: ChunkChannel<GenerationChunk> | null,
    cancel: { cancelled: boolean },
  ): Promise<GenerationResult> {
    if (this.busy) throw new BusyError('this decoder');
    const { target, drafter, verifier, tree, result, plan } = this;
    const maxTokens = requireInteger('maxTokens', options.maxTokens ?? 128, 0);
    const criteria = this.stopCriteria(options);
    const prompt = this.checkPrompt(promptIds);
    const promptLength = prompt.length;
    const wantFeatures = drafter?.needsFeatures === true && target.featureSize > 0;
    const stats = new StatsRecorder(tree.capacity);
    const signal = options.signal;

    this.busy = true;
    try {
      target.reset();
      drafter?.reset(verifier.seed);
      verifier.reset();
      for (const c of criteria) c.reset();

      const capacity = Math.min(target.maxContext, promptLength + maxTokens) + tree.capacity + 1;
      const tokens = new Int32Array(capacity);
      tokens.set(prompt);
      let length = promptLength;
      let emitted = promptLength;
      let finishReason: FinishReason = 'length';
      let keep = -1;
      const match: StopMatch = { end: 0, keep: 0 };
      let stop: GenerationResult['stop'];

      let featureSource: Float32Array | null = null;
      let featureRows = 0;
      let featureStart = 0;
      const featureSize = wantFeatures ? target.featureSize : 0;

      if (maxTokens > 0 && promptLength > 1 && !signal?.aborted) {
        const t0 = now();
        const step = await target.prefill(prompt.subarray(0, promptLength - 1), {
          features: wantFeatures,
          signal,
        });
        stats.prefillCalls = 1;
        stats.prefillMs = now() - t0;
        if (wantFeatures && step.features) {
          featureSource = step.features;
          featureRows = promptLength - 1;
        }
      }

      const loopStart = now();
      const drafting: Mutable<DraftContext> = {
        tokens,
        length,
        promptLength,
        features: null,
        featureStart: 0,
        featureRows: 0,
        featureSize,
        signal,
      };
      while (true) {
        if (signal?.aborted || cancel.cancelled) {
          finishReason = 'abort';
          break;
        }
        if (length - promptLength >= maxTokens) break;
        const room = target.maxContext - target.cachedLength;
        if (room < 1) {
          finishReason = 'context';
          break;
        }

        const t0 = now();
        tree.reset(tokens[length - 1]);
        if (drafter) {
          drafting.length = length;
          drafting.features = featureSource;
          drafting.featureStart = featureStart;
          drafting.featureRows = featureRows;
          await drafter.propose(drafting, tree);
          if (tree.size > room) tree.size = room;
        }
        const t1 = now();
        const step = await target.verify(tree, { features: wantFeatures, signal });
        const t2 = now();
        stats.draftMs += t1 - t0;
        stats.verifyMs += t2 - t1;

        verifier.verify(
          {
            tree,
            logits: step.logits,
            vocabSize: target.vocabSize,
            context: tokens,
            contextLength: length,
            promptLength,
          },
          result,
        );
        planKeep(tree, result.path, result.pathLength, plan);
        target.commit(plan);

        const from = length;
        for (let k = 1; k < result.pathLength; k++) tokens[length++] = tree.tokens[result.path[k]];
        tokens[length++] = result.bonusToken;
        stats.recordStep(
          tree.size,
          result.pathLength - 1,
          hasChildren(tree, result.path[result.pathLength - 1]),
        );

        if (wantFeatures && step.features) {
          featureSource = this.gatherFeatures(step.features, featureSize);
          featureStart = from - 1;
          featureRows = result.pathLength;
        } else {
          featureSource = null;
          featureStart = length - 1;
          featureRows = 0;
        }
        drafter?.observe?.({
          tree,
          path: result.path,
          pathLength: result.pathLength,
          bonusToken: result.bonusToken,
        });
        options.onStep?.({
          step: stats.steps - 1,
          tree,
          path: result.path,
          pathLength: result.pathLength,
          bonusToken: result.bonusToken,
        });

        let stopEnd = -1;
        for (const c of criteria) {
          if (c.check(tokens, promptLength, from, length, match) && (stopEnd < 0 || match.end < stopEnd)) {
            stopEnd = match.end;
            keep = match.keep;
            finishReason = c.reason;
            stop = { criterion: c, match: { ...match } };
          }
        }
        const limit = promptLength + maxTokens;
        if (length >= limit && (stopEnd < 0 || stopEnd > limit)) {
          keep = limit;
          finishReason = 'length';
          stop = undefined;
        }
        if (keep >= 0) {
          length = Math.min(length, keep);
          break;
        }
        if (channel) {
          let hold = 0;
          for (const c of criteria) hold = Math.max(hold, c.pending(tokens, promptLength, length));
          const safe = length - hold;
          if (safe > emitted) {
            channel.push({ tokens: tokens.slice(emitted, safe), step: stats.steps - 1 });
            emitted = safe;
          }
        }
      }
      if (channel && length > emitted)
        channel.push({ tokens: tokens.slice(emitted, length), step: stats.steps - 1 });
      stats.loopMs = now() - loopStart;
      const generated = tokens.slice(promptLength, length);
      const summary = stats.summary(promptLength, generated.length);
      const controller = drafter?.controllerStats?.();
      if (controller) summary.controller = controller;
      return { tokens: generated, finishReason, ...(stop ? { stop } : {}), stats: summary };
    } finally {
      this.busy = false;
    }
  }

  private gatherFeatures(features: Float32Array, featureSize: number): Float32Array {
    const { result } = this;
    const needed = result.pathLength * featureSize;
    if (this.pendingFeatures.length < needed)
      this.pendingFeatures = new Float32Array(this.tree.capacity * featureSize);
    for (let k = 0; k < result.pathLength; k++) {
      const slot = result.path[k];
      this.pendingFeatures.set(
        features.subarray(slot * featureSize, (slot + 1) * featureSize),
        k * featureSize,
      );
    }
    return this.pendingFeatures;
  }

  private checkPrompt(promptIds: ArrayLike<number>): Int32Array {
    const length = promptIds.length;
    if (length < 1) {
      throw new OptionError(
        'prompt',
        '[]',
        'at least one token (encode with special tokens to start with BOS)',
      );
    }
    if (length > this.target.maxContext) {
      throw new ContextOverflowError(length, this.target.maxContext, `a prompt of ${length} tokens`);
    }
    const prompt = Int32Array.from(promptIds);
    for (let i = 0; i < length; i++) {
      const id = prompt[i];
      if (!(id >= 0 && id < this.target.vocabSize) || id !== promptIds[i]) {
        throw new OptionError(`prompt[${i}]`, promptIds[i], `a token id in [0, ${this.target.vocabSize})`);
      }
    }
    return prompt;
  }

  private stopCriteria(options: GenerateOptions): StopCriterion[] {
    const criteria: StopCriterion[] = [];
    if (options.eosTokenIds && options.eosTokenIds.length > 0)
      criteria.push(new EosStop(options.eosTokenIds));
    if (options.stopSequences && options.stopSequences.length > 0) {
      criteria.push(new TokenSequenceStop(options.stopSequences));
    }
    if (options.stopCriteria) criteria.push(...options.stopCriteria);
    return criteria;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function hasChildren(tree: DraftTree, node: number): boolean {
  for (let i = node + 1; i < tree.size; i++) if (tree.parents[i] === node) return true;
  return false;
}
