import type { DraftTree } from './draft-tree.js';
import type { ControllerStats } from './generation-stats.js';
import type { FirstDraws } from './verifier.js';

/**
 * What a drafter sees before each step. `tokens[0..length)` is the committed sequence; its last
 * token is the root of the tree to draft. The arrays are read-only views valid for this call.
 */
export interface DraftContext {
  /** Committed tokens (prompt and generated). */
  readonly tokens: Int32Array;
  /** Number of committed tokens. */
  readonly length: number;
  /** Tokens that belong to the prompt (the first `promptLength` of `tokens`). */
  readonly promptLength: number;
  /**
   * Target features not yet shown to this drafter: row r is the target's hidden state at
   * position `featureStart + r`, i.e. the one that predicted `tokens[featureStart + r + 1]`.
   * Rows run up to position `length - 2`. Null when the target exports no features.
   */
  readonly features: Float32Array | null;
  /** Position of the first row of `features`. */
  readonly featureStart: number;
  /** Rows in `features`. */
  readonly featureRows: number;
  /** Width of a feature row. */
  readonly featureSize: number;
  /**
   * Most tree nodes, root included, the target can still take before its context is full. The
   * loop cuts longer trees to this size; model drafters draft no deeper than it allows, so no
   * draft row is placed past the context.
   */
  readonly room: number;
  /**
   * Deepest tree node (the root at depth 0) whose token the generation can still take: the tokens
   * left to `maxTokens`, less this step's bonus token; at least 1 (the loop decodes the last
   * token plainly, without a draft). Deeper nodes could be accepted but never kept, so model
   * drafters draft no deeper, and the loop cuts deeper nodes off trees without draft
   * distributions.
   */
  readonly maxDepth: number;
  /**
   * The generation's abort signal. The decoder checks it between steps and waits for `propose`
   * to settle: a drafter that waits on anything slow (a network, a worker) must reject or return
   * when it aborts, or the abort waits for it.
   */
  readonly signal?: AbortSignal;
}

/**
 * One verification step's outcome, as the loop tells the drafter (`observe`) and the caller
 * (`onStep`). One object per generation, updated in place each step: copy what you keep.
 */
export interface StepOutcome {
  /** Step number, from 0. */
  readonly step: number;
  /** The tree that was verified. */
  readonly tree: DraftTree;
  /** Accepted slots of the tree, root first. */
  readonly path: Int32Array;
  /** Length of the accepted path (root included). */
  readonly pathLength: number;
  /** The target's own token after the path. */
  readonly bonusToken: number;
  /** The chances of a sampled tree's chain of first draws, where the verifier knows them. */
  readonly firstDraws?: FirstDraws;
}

/** A step's outcome as a drafter sees it: {@link StepOutcome} under the name drafters use. */
export type DraftOutcome = StepOutcome;

/**
 * Proposes draft trees. A drafter keeps whatever state it needs (its own KV cache, an index of
 * the context) and brings it up to date from the context it is given each step.
 */
export interface Drafter {
  /** Short name shown in statistics and benchmarks. */
  readonly name: string;
  /** True when the drafter reads target features (`DraftContext.features`). */
  readonly needsFeatures: boolean;
  /** Largest tree `propose` may write, root included. */
  readonly maxTreeSize: number;
  /**
   * Forgets everything about the previous sequence. Called before every generation, with the
   * generation's sampling seed and temperature when the verifier samples: drafters that sample
   * their trees derive their own stream from the seed, so that a seed reproduces a run and
   * different seeds give independent drafts (which lossless verification of sampled candidates
   * requires), and draw from their draft distribution at the target's temperature, so that their
   * draws follow what the target will sample.
   */
  reset(seed?: number, temperature?: number): void;
  /** Writes a tree rooted at the last committed token into `tree`. */
  propose(context: DraftContext, tree: DraftTree): Promise<void> | void;
  /**
   * Optional, for drafters that read target features: asked after each `propose`, whether the
   * features of the rows this step commits may still be read. A drafter that knows it will not
   * draft before those rows fall outside what it would catch up on (a budget controller in a run
   * of plain steps far from its next probe) answers false, and the loop does not fetch them: the
   * next rows it does fetch then start after a gap, which the drafter bridges by forgetting its
   * context ({@link Drafter.catchUpWithin}). Absent: always.
   */
  wantsStepFeatures?(): boolean;
  /** Learns from a verification (optional: adaptive drafters use it). */
  observe?(outcome: StepOutcome): void;
  /**
   * Optional, for drafters that keep a model's context: bounds the catch-up of the next
   * `propose`. When it would first feed the model more than `rows` committed rows (after a run
   * of plain steps, say), the drafter forgets its context and feeds only the newest `rows`. Its
   * drafts then see a shorter history, which changes how much is accepted, never the output.
   */
  catchUpWithin?(rows: number): void;
  /** Releases native resources. */
  dispose?(): Promise<void>;
  /**
   * Optional: what a budget controller (this drafter or one it wraps) chose during the current
   * generation; the decoder adds it to the generation's statistics.
   */
  controllerStats?(): ControllerStats | null;
}
