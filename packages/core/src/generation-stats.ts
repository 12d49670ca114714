/** Statistics of one generation. Times are wall-clock milliseconds. */
export interface GenerationStats {
  /** Tokens in the prompt. */
  promptTokens: number;
  /** Tokens generated (after any stop-sequence trimming). */
  generatedTokens: number;
  /** Target forward passes: the prefill (if any) plus one per verification step. */
  targetCalls: number;
  /** Verification steps (draft, verify, commit). */
  steps: number;
  /**
   * Mean tokens committed per verification step, bonus included (1.0 for plain decoding). Tokens
   * a step committed count where the generation then ended before them (a stop sequence, an EOS,
   * `maxTokens`): tau measures the drafts, not where the generation ended.
   */
  tau: number;
  /**
   * `acceptedLengths[k]` counts the steps that accepted exactly k drafted tokens (so each of them
   * committed k + 1 tokens).
   */
  acceptedLengths: number[];
  /**
   * `acceptanceByDepth[d - 1]`: of the steps that accepted d - 1 drafted tokens and had draft
   * candidates at depth d below the last of them, the fraction that accepted one of those too
   * (the conditional acceptance rate per depth).
   */
  acceptanceByDepth: number[];
  /** Mean nodes per verified tree, root included. */
  meanTreeSize: number;
  /** Time in the prefill. */
  prefillMs: number;
  /** Time the drafter spent proposing trees. */
  draftMs: number;
  /** Time the target spent verifying trees. */
  verifyMs: number;
  /** Everything else in the decode loop: acceptance walk, cache commit, stop checks, streaming. */
  bookkeepingMs: number;
  /** Prefill plus decode. */
  totalMs: number;
  /** Generated tokens per second of decoding (prefill excluded). */
  tokensPerSecond: number;
  /** What the budget controller chose, when the drafter has one. */
  controller?: ControllerStats;
}

/**
 * The choices of a budget controller during one generation, and the cost model they came from.
 * Means are over the steps that drafted; tokens per step count the bonus token.
 */
export interface ControllerStats {
  /**
   * Steps the controller decided: all of a generation's but the one that takes its last token
   * alone, which the loop decodes without asking the drafter.
   */
  steps: number;
  /** Steps it decoded plainly: the root alone, no drafting. */
  plainSteps: number;
  /** Steps that drafted a larger tree than the best one, to keep its acceptance estimates fresh. */
  probeSteps: number;
  /** Mean depths its drafted steps drafted (one draft call each; a tree sized by value may keep no node that deep). */
  meanDepth: number;
  /** Mean draft nodes (the root not counted) of the trees it verified. */
  meanNodes: number;
  /** Mean tokens per step it predicted for the trees it drafted. */
  predictedTokensPerStep: number;
  /** Mean tokens those steps committed. */
  actualTokensPerStep: number;
  /**
   * Mean ms per step its cost model predicted for the trees (or plain steps) it chose, over the
   * steps followed by another of the same generation (0 when none was).
   */
  predictedMsPerStep: number;
  /** Mean ms those steps took, from one step's drafting to the next one's. */
  actualMsPerStep: number;
  /** Mean drafted steps per run of them (between plain steps, or to a generation's end); 0 before one ended. */
  meanDraftRun: number;
  /** Its cost model at the end of the generation (ms). */
  costs: {
    /** A plain step: verifying the root alone, plus the step's overhead. */
    plainStep: number;
    /** `[treeSize, ms]` for the tree sizes it has measured. */
    verify: Array<[number, number]>;
    /** `[depth, ms]` for the draft depths it has measured. */
    draft: Array<[number, number]>;
    /** Per-step time outside drafting and verification. */
    overhead: number;
    /**
     * A tree's actual over predicted ms right after plain steps (its drafter catching up on their
     * rows); 1 until measured. A run of drafted steps entered from plain steps pays it once.
     */
    entering: number;
    /**
     * A tree drafted at a generation's first step (not a probe), actual over predicted ms: its
     * drafter reads the prompt first; 1 until measured. A generation pays it once, if it drafts.
     */
    starting: number;
    /** The plain step right after a drafted step, over a plain step's price; 1 until measured. */
    leaving: number;
  };
}

/** Accumulates {@link GenerationStats} during a generation. Allocation-free per step. */
export class StatsRecorder {
  private acceptedCounts: Float64Array;
  private reachedDepth: Float64Array;
  private acceptedDepth: Float64Array;
  private treeNodes = 0;
  private committedTokens = 0;
  steps = 0;
  prefillCalls = 0;
  prefillMs = 0;
  draftMs = 0;
  verifyMs = 0;
  loopMs = 0;

  constructor(maxDepth: number) {
    this.acceptedCounts = new Float64Array(maxDepth + 1);
    this.reachedDepth = new Float64Array(maxDepth + 1);
    this.acceptedDepth = new Float64Array(maxDepth + 1);
  }

  /**
   * Records a verification step: the tree's size, the drafted tokens accepted, and whether the
   * last accepted node had candidates below it (so the walk ended on a rejection, not a leaf).
   */
  recordStep(treeSize: number, accepted: number, rejectedBelow: boolean): void {
    this.steps++;
    this.treeNodes += treeSize;
    this.committedTokens += accepted + 1;
    const last = this.acceptedCounts.length - 1;
    this.acceptedCounts[Math.min(accepted, last)]++;
    for (let d = 1; d <= Math.min(accepted, last); d++) {
      this.reachedDepth[d]++;
      this.acceptedDepth[d]++;
    }
    if (rejectedBelow && accepted + 1 <= last) this.reachedDepth[accepted + 1]++;
  }

  /** The final statistics. */
  summary(promptTokens: number, generatedTokens: number): GenerationStats {
    const acceptedLengths = Array.from(this.acceptedCounts);
    while (acceptedLengths.length > 1 && acceptedLengths[acceptedLengths.length - 1] === 0)
      acceptedLengths.pop();
    const acceptanceByDepth: number[] = [];
    for (let d = 1; d < this.reachedDepth.length && this.reachedDepth[d] > 0; d++) {
      acceptanceByDepth.push(this.acceptedDepth[d] / this.reachedDepth[d]);
    }
    const decodeMs = this.loopMs;
    return {
      promptTokens,
      generatedTokens,
      targetCalls: this.steps + this.prefillCalls,
      steps: this.steps,
      tau: this.steps > 0 ? this.committedTokens / this.steps : 0,
      acceptedLengths,
      acceptanceByDepth,
      meanTreeSize: this.steps > 0 ? this.treeNodes / this.steps : 0,
      prefillMs: this.prefillMs,
      draftMs: this.draftMs,
      verifyMs: this.verifyMs,
      bookkeepingMs: Math.max(0, decodeMs - this.draftMs - this.verifyMs),
      totalMs: this.prefillMs + decodeMs,
      tokensPerSecond: decodeMs > 0 ? (generatedTokens * 1000) / decodeMs : 0,
    };
  }
}
