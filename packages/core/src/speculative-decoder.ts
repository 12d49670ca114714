import { ChunkChannel } from './chunk-channel.js';
import { DraftTree } from './draft-tree.js';
import { checkDraftTree } from './draft-tree-check.js';
import type { DraftContext, Drafter, StepOutcome } from './drafter.js';
import { BusyError, ContractError, OptionError } from './errors.js';
import { FeatureFeed, type Mutable } from './feature-feed.js';
import { type GenerationStats, StatsRecorder } from './generation-stats.js';
import { KeepPlan, planKeep } from './keep-plan.js';
import {
  EosStop,
  type FinishReason,
  type StopCriterion,
  type StopMatch,
  TokenSequenceStop,
} from './stop-criteria.js';
import { type GenerationChunk, StopGate } from './stop-gate.js';
import type { TargetModel, TargetStep } from './target-model.js';
import {
  requireFunction,
  requireInteger,
  requireMethods,
  requirePromptFits,
  requireSignal,
} from './validate.js';
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

/** One verification step as `onStep` sees it: {@link StepOutcome} under the name callers use. */
export type StepEvent = StepOutcome;

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
  /** Called after each verification step, synchronously, with the step's reused outcome. */
  onStep?: (event: StepOutcome) => void;
}

export type { GenerationChunk } from './stop-gate.js';

/** What a generation returns. */
export interface GenerationResult {
  /** Generated token ids (prompt excluded). */
  tokens: Int32Array;
  finishReason: FinishReason;
  /** The stop criterion that ended the generation and where it matched (absent for other reasons). */
  stop?: { criterion: StopCriterion; match: StopMatch };
  stats: GenerationStats;
}

/** A running generation: iterate it for chunks; `result` settles when it ends. */
export interface GenerationStream extends AsyncIterable<GenerationChunk> {
  readonly result: Promise<GenerationResult>;
}

const now = (): number => performance.now();

/**
 * The targets a generation is running on, whichever decoder runs it: a target holds one KV cache,
 * so a second decoder over the same target (a generator composed from another's target) must not
 * start meanwhile.
 */
const generating = new WeakSet<TargetModel>();

/**
 * Lossless speculative decoding: prefill, then repeat draft → verify → commit until a stop.
 * With a greedy verifier the output is token for token that of plain greedy decoding of the
 * target; with a stochastic verifier it is distributed exactly as the target's own sampling.
 * One generation at a time per decoder, and per target among all decoders over it (a second one
 * throws a {@link BusyError}); it can generate again after an abort or an error.
 */
export class SpeculativeDecoder {
  readonly target: TargetModel;
  readonly drafter: Drafter | null;
  readonly verifier: Verifier;
  private readonly tree: DraftTree;
  private readonly result: VerifyResult;
  private readonly plan: KeepPlan;
  private readonly feed: FeatureFeed;
  /** Each tree node's two uniforms, for a target that draws the tokens itself. */
  private readonly uniforms: Float32Array;
  private busy = false;

  constructor(parts: DecoderParts) {
    requireMethods('parts', parts, [], 'an object of decoder parts ({ target, drafter?, verifier })');
    requireMethods('target', parts.target, ['reset', 'prefill', 'verify', 'commit'], 'a TargetModel');
    requireMethods(
      'verifier',
      parts.verifier,
      ['reset', 'verify'],
      'a Verifier (GreedyVerifier, StochasticVerifier or createVerifier(…) of @treespec/sampling)',
    );
    if (parts.drafter != null)
      requireMethods('drafter', parts.drafter, ['reset', 'propose'], 'a Drafter, or null');
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
    this.uniforms = new Float32Array(2 * capacity);
    this.result = new VerifyResult(capacity);
    this.plan = new KeepPlan(capacity);
    if (this.drafter?.needsFeatures === true && !(this.target.featureSize > 0)) {
      throw new ContractError(
        `the ${this.drafter.name} drafter reads the target's features, but this target outputs none (featureSize ${this.target.featureSize}); ` +
          'give it a target converted with a feature output, or a drafter that needs none',
      );
    }
    const fed = this.drafter?.needsFeatures === true;
    this.feed = new FeatureFeed(fed ? this.target.featureSize : 0, capacity);
  }

  /** Generates after `prompt` (token ids, e.g. starting with BOS) and returns the whole result. */
  async generate(prompt: ArrayLike<number>, options: GenerateOptions = {}): Promise<GenerationResult> {
    return this.run(prompt, options, null, { cancelled: false });
  }

  /** Generates after `prompt`, yielding tokens as they are committed. */
  stream(prompt: ArrayLike<number>, options: GenerateOptions = {}): GenerationStream {
    const cancel = { cancelled: false };
    // A consumer that breaks out of the stream gets control back once the run has stopped (at its
    // next step), so that the decoder is free for its next call.
    const channel = new ChunkChannel<GenerationChunk>(() => {
      cancel.cancelled = true;
      return result;
    });
    const result: Promise<GenerationResult> = this.run(prompt, options, channel, cancel).then(
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
    const { target, drafter, verifier, tree, result, feed } = this;
    if (generating.has(target)) throw new BusyError('another decoder over this target model');
    requireMethods('options', options, [], 'an object of generation options, or nothing');
    const maxTokens = requireInteger('maxTokens', options.maxTokens ?? 128, 0);
    requireFunction('onStep', options.onStep, 'a function called after each step');
    const criteria = this.stopCriteria(options);
    const prompt = this.checkPrompt(promptIds);
    const promptLength = prompt.length;
    const wantFeatures = feed.size > 0;
    const greedy = target.greedyTokens === true && verifier.argmaxOnly === true;
    // The target draws a tree's tokens itself where the verifier reads nothing else of its rows.
    const rowSampling =
      target.sampledTokens === true && verifier.sampleUniforms && verifier.temperature !== undefined
        ? { uniforms: this.uniforms, temperature: verifier.temperature }
        : null;
    // Trees drawn from a draft distribution read each row's softmax, which the target can weigh.
    const rowWeighing =
      rowSampling && target.sampleWeights === true && verifier.weighsRows
        ? { ...rowSampling, weights: true }
        : null;
    const stats = new StatsRecorder(tree.capacity);
    const signal = requireSignal('signal', options.signal);

    this.busy = true;
    generating.add(target);
    try {
      target.reset();
      drafter?.reset(verifier.seed, verifier.temperature);
      verifier.reset();
      feed.reset();
      for (const c of criteria) c.reset();

      const capacity = Math.min(target.maxContext, promptLength + maxTokens) + tree.capacity + 1;
      const tokens = new Int32Array(capacity);
      tokens.set(prompt);
      let length = promptLength;
      const gate = new StopGate(criteria, promptLength, maxTokens, channel);

      if (maxTokens > 0 && promptLength > 1 && !signal?.aborted) {
        const t0 = now();
        const step = await target.prefill(prompt.subarray(0, promptLength - 1), {
          features: wantFeatures,
          signal,
        });
        stats.prefillCalls = 1;
        stats.prefillMs = now() - t0;
        feed.afterPrefill(step.features, promptLength - 1);
      }

      const loopStart = now();
      const drafting: Mutable<DraftContext> = {
        tokens,
        length,
        promptLength,
        features: null,
        featureStart: 0,
        featureRows: 0,
        featureSize: feed.size,
        room: target.maxContext,
        maxDepth: maxTokens,
        signal,
      };
      const outcome: Mutable<StepOutcome> = {
        step: 0,
        tree,
        path: result.path,
        pathLength: 0,
        bonusToken: 0,
        firstDraws: result.firstDraws,
      };
      while (true) {
        if (signal?.aborted || cancel.cancelled) {
          gate.finishReason = 'abort';
          break;
        }
        if (length - promptLength >= maxTokens) break;
        const room = target.maxContext - target.cachedLength;
        if (room < 1) {
          gate.finishReason = 'context';
          break;
        }

        const t0 = now();
        tree.reset(tokens[length - 1]);
        // A step commits its accepted path and a bonus token: drafts deeper than the tokens left
        // less one would be cut at maxTokens, and the last token is a plain step.
        const maxDepth = maxTokens - (length - promptLength) - 1;
        const drafts = drafter !== null && maxDepth > 0;
        // The last step's features would be read by no later draft.
        let stepFeatures = wantFeatures && drafts;
        if (drafts) {
          drafting.length = length;
          feed.fill(drafting);
          drafting.room = room;
          drafting.maxDepth = maxDepth;
          const root = tokens[length - 1];
          await drafter.propose(drafting, tree);
          checkDraftTree(tree, root, tokens[length - 1], target.vocabSize, drafter.name);
          if (stepFeatures && drafter.wantsStepFeatures) stepFeatures = drafter.wantsStepFeatures();
          if (tree.size > room) tree.size = room;
          if (maxDepth < tree.size - 1 && !tree.draftDistributions) tree.cutToDepth(maxDepth);
        }
        const sample =
          rowSampling && verifier.sampleUniforms?.(tree, length, rowSampling.uniforms)
            ? rowSampling
            : rowWeighing && verifier.weighsRows?.(tree, length, rowWeighing.uniforms)
              ? rowWeighing
              : undefined;
        const t1 = now();
        const step = await target.verify(tree, { features: stepFeatures, greedy, sample, signal });
        stats.draftMs += t1 - t0;
        stats.verifyMs += now() - t1;

        const from = length;
        length = this.accept(step, tokens, length, promptLength);
        stats.recordStep(
          tree.size,
          result.pathLength - 1,
          tree.firstChild(result.path[result.pathLength - 1]) >= 0,
        );
        feed.afterStep(step.features, result, from, length);
        outcome.step = stats.steps - 1;
        outcome.pathLength = result.pathLength;
        outcome.bonusToken = result.bonusToken;
        if (drafts) drafter.observe?.(outcome);
        options.onStep?.(outcome);

        const keep = gate.check(tokens, from, length);
        if (keep >= 0) {
          length = Math.min(length, keep);
          break;
        }
        gate.emit(tokens, length, stats.steps - 1);
      }
      gate.flush(tokens, length, stats.steps - 1);
      stats.loopMs = now() - loopStart;
      const generated = tokens.slice(promptLength, length);
      const summary = stats.summary(promptLength, generated.length);
      const { finishReason, stop } = gate;
      const controller = drafter?.controllerStats?.();
      if (controller) summary.controller = controller;
      return { tokens: generated, finishReason, ...(stop ? { stop } : {}), stats: summary };
    } finally {
      this.busy = false;
      generating.delete(target);
    }
  }

  /**
   * Verifies the drafted tree against the target's step (its logits, or each row's greedy token
   * when it returned those), commits the accepted path in the target's cache and appends it and
   * the bonus token to `tokens`; returns the new length.
   */
  private accept(step: TargetStep, tokens: Int32Array, length: number, promptLength: number): number {
    const { target, tree, result, plan } = this;
    result.firstDraws.count = 0;
    this.verifier.verify(
      {
        tree,
        logits: step.logits,
        greedyTokens: step.greedyTokens,
        sampledTokens: step.sampledTokens,
        sampleWeights: step.sampleWeights,
        sampleMasses: step.sampleMasses,
        logitSums: step.logitSums,
        vocabSize: target.vocabSize,
        context: tokens,
        contextLength: length,
        promptLength,
      },
      result,
    );
    planKeep(tree, result.path, result.pathLength, plan);
    target.commit(plan);
    let end = length;
    for (let k = 1; k < result.pathLength; k++) tokens[end++] = tree.tokens[result.path[k]];
    tokens[end++] = result.bonusToken;
    return end;
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
    requirePromptFits(length, this.target.maxContext);
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
    const { eosTokenIds, stopSequences, stopCriteria } = options;
    if (eosTokenIds !== undefined && !Array.isArray(eosTokenIds) && !ArrayBuffer.isView(eosTokenIds)) {
      throw new OptionError('eosTokenIds', eosTokenIds, 'an array of token ids');
    }
    if (stopSequences !== undefined && !Array.isArray(stopSequences)) {
      throw new OptionError('stopSequences', stopSequences, 'an array of token id sequences');
    }
    if (stopCriteria !== undefined && !Array.isArray(stopCriteria)) {
      throw new OptionError('stopCriteria', stopCriteria, 'an array of StopCriterion objects');
    }
    for (const [i, c] of (stopCriteria ?? []).entries()) {
      requireMethods(`stopCriteria[${i}]`, c, ['reset', 'check', 'pending'], 'a StopCriterion');
    }
    const criteria: StopCriterion[] = [];
    if (eosTokenIds && eosTokenIds.length > 0) criteria.push(new EosStop(eosTokenIds));
    if (stopSequences && stopSequences.length > 0) criteria.push(new TokenSequenceStop(stopSequences));
    if (stopCriteria) criteria.push(...stopCriteria);
    return criteria;
  }
}
