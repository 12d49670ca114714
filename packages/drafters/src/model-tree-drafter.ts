import {
  ContractError,
  type DraftContext,
  type Drafter,
  type DraftModel,
  type DraftModelStep,
  type DraftOutcome,
  type DraftTree,
  MASKED_BIAS,
  requireInteger,
  type TreeGrowth,
} from '@treespec/core';
import { DraftSampler, type DraftSampling } from './draft-sampler.js';

/** The committed rows a drafter hands its model before drafting a step. */
export interface CommitRows {
  /** Position of the first row in the sequence. */
  start: number;
  tokens: Int32Array;
  /** Feature rows for feature heads; an empty array for models without features. */
  features: Float32Array;
  /** Width of a feature row in `features`; 0 for models without features. */
  featureWidth: number;
  rows: number;
}

/** What every {@link ModelTreeDrafter} takes beside its tree shape. */
export interface ModelTreeDrafterOptions {
  /** Draw each node's children from the model's draft distribution (sampled trees) instead of its top-k. */
  sample?: DraftSampling;
  /**
   * The most rows the model reads at the first draft of a generation: the newest of the prompt
   * (and of the tokens committed before that draft), a bounded catch-up as a probe's
   * ({@link ModelTreeDrafter.catchUpWithin}). 0, the default, reads them all. A feature head reads
   * the whole context through the target's features, so a short window costs it little
   * acceptance and saves its prompt's rows from the time to the first token.
   */
  promptRows?: number;
}

/**
 * Grows a draft tree with a {@link DraftModel}, one depth per model call. Each step the model
 * first catches up on the newly committed rows (what those are is the subclass's business), and
 * the top-k of the newest committed row (the one row a commit returns) become the root's
 * children. Then every frontier node becomes a draft row (its token, and the predicted feature of
 * the row that proposed it when the model takes features) at position `committedRows + depth -
 * 1`, attending to all committed rows and to its own ancestors' draft rows; that row's top-k
 * become the node's children. With `sample`, every node's children are drawn without replacement
 * from the draft distribution of its row instead (from the model's `logits`: over the whole
 * vocabulary, or over its draft vocabulary, `draftTokenIds`, the other tokens at q = 0; at
 * temperature 1 from their softmax where the model computes it), making `sampled-distinct` trees
 * that carry each node's distribution for lossless verification.
 */
export abstract class ModelTreeDrafter implements Drafter {
  abstract readonly name: string;
  abstract readonly needsFeatures: boolean;
  readonly maxTreeSize: number;
  readonly model: DraftModel;
  readonly growth: TreeGrowth;
  protected readonly k: number;
  private readonly frontier: Int32Array;
  private readonly tokens: Int32Array;
  private readonly positions: Int32Array;
  private readonly rowFeatures: Float32Array;
  private readonly bias: Float32Array;
  /** Predicted features by source row: 0 = the newest committed row, 1 + r = draft row r. */
  private readonly predicted: Float32Array;
  /** For each growth node, the `predicted` row its feature comes from. */
  private readonly sourceOf: Int32Array;
  /** For each expanded growth node, its draft row (-1 if not expanded). */
  private readonly draftRowOf: Int32Array;
  /** Draws the children of sampled trees; null for top-k trees. */
  private readonly sampler: DraftSampler | null;
  /**
   * Rows of the sequence before the model's first committed row: those a bounded catch-up
   * ({@link ModelTreeDrafter.catchUpWithin}) left out since the last `reset`.
   */
  protected skipped = 0;
  /** The bound on the next catch-up in rows; 0 for none. */
  private catchUpBound = 0;
  /** Committed tokens of this generation already noted by the model (`DraftModel.noteContext`). */
  private notedTokens = 0;
  /** The bound on a generation's first catch-up; 0 for none. */
  private readonly promptRows: number;

  constructor(model: DraftModel, growth: TreeGrowth, options: ModelTreeDrafterOptions) {
    this.model = model;
    this.promptRows = requireInteger('promptRows', options.promptRows ?? 0, 0);
    this.growth = growth;
    this.maxTreeSize = growth.maxTreeSize;
    this.k = growth.maxChildren;
    const hidden = model.featureSize;
    const batch = growth.maxFrontier;
    if (batch > model.maxDraftBatch) {
      throw new ContractError(
        `the tree needs draft batches of ${batch} rows but the model takes at most ${model.maxDraftBatch}`,
      );
    }
    const maxDraftRows = growth.maxNodes;
    this.frontier = new Int32Array(batch);
    this.tokens = new Int32Array(batch);
    this.positions = new Int32Array(batch);
    this.rowFeatures = new Float32Array(batch * hidden);
    this.bias = new Float32Array(batch * (model.maxContext + maxDraftRows + batch));
    this.predicted = new Float32Array((1 + maxDraftRows) * hidden);
    this.sourceOf = new Int32Array(growth.maxNodes);
    this.draftRowOf = new Int32Array(growth.maxNodes);
    this.sampler = options.sample
      ? new DraftSampler(options.sample, growth, model.vocabSize, model.draftTokenIds ?? null)
      : null;
  }

  /** True when the trees are sampled (children drawn from the draft distribution), not top-k. */
  get samples(): boolean {
    return this.sampler !== null;
  }

  /** The rows to commit before drafting this step, or null when there is nothing to draft from. */
  protected abstract rowsToCommit(context: DraftContext): CommitRows | null;

  /**
   * Adds the children of `node` from row `row` of a model call: its top-k, or draws from its
   * draft distribution for sampled trees. `source` is the predicted-feature row the children's
   * own draft rows will be fed.
   */
  private addChildren(node: number, step: DraftModelStep, row: number, source: number): void {
    const { growth, sampler } = this;
    const wanted = growth.childrenWanted(node);
    if (sampler) {
      if (step.probabilities) sampler.setProbabilities(node, step.probabilities, row, step.probabilityIds);
      else if (step.logits) sampler.setDistribution(node, step.logits, row);
      else throw new ContractError('sampled drafting needs the draft model’s logits');
      for (let r = 0; r < wanted; r++) {
        const token = sampler.draw(node);
        if (token < 0) break;
        const child = growth.addChild(node, token, sampler.logProbability(node, token));
        // The tree must hold exactly the first draws: a later one comes from q without this one.
        if (child < 0) break;
        this.sourceOf[child] = source;
      }
      return;
    }
    const base = row * step.k;
    if (step.entropies) growth.reportEntropy?.(node, step.entropies[row]);
    for (let r = 0; r < wanted && r < step.k; r++) {
      const child = growth.addChild(node, step.topTokens[base + r], step.topLogProbs[base + r]);
      if (child >= 0) this.sourceOf[child] = source;
    }
  }

  reset(seed?: number, temperature?: number): void {
    this.model.reset();
    this.model.clearContext?.();
    this.notedTokens = 0;
    this.sampler?.restart(seed, temperature);
    this.skipped = 0;
    this.catchUpBound = this.promptRows;
  }

  catchUpWithin(rows: number): void {
    this.catchUpBound = requireInteger('rows', rows, 1);
  }

  /**
   * The rows to commit this step, cut to the newest `catchUpBound` after forgetting the model's
   * context when there are more (the bound applies to this one catch-up).
   */
  private boundedRows(context: DraftContext): CommitRows | null {
    const commit = this.rowsToCommit(context);
    const bound = this.catchUpBound;
    this.catchUpBound = 0;
    // Rows after a gap (a budget controller did not fetch the features of some plain steps):
    // what the model holds does not continue into them, so it starts again from them.
    if (commit && commit.start > this.skipped + this.model.committedRows) {
      this.skipped = commit.start;
      this.model.reset();
    }
    if (!commit || bound === 0 || commit.rows <= bound) return commit;
    const drop = commit.rows - bound;
    this.skipped += this.model.committedRows + drop;
    this.model.reset();
    const width = commit.featureWidth;
    return {
      start: commit.start + drop,
      tokens: commit.tokens.subarray(drop, drop + bound),
      features: width > 0 ? commit.features.subarray(drop * width, (drop + bound) * width) : commit.features,
      featureWidth: width,
      rows: bound,
    };
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    const { model, growth } = this;
    const hidden = model.featureSize;
    if (context.room < 2) return;
    if (model.noteContext && context.length > this.notedTokens) {
      model.noteContext(context.tokens, this.notedTokens, context.length);
      this.notedTokens = context.length;
    }
    const commit = this.boundedRows(context);
    if (!commit || model.committedRows + commit.rows > model.maxContext) return;
    model.requestLogits?.(this.sampler !== null, this.sampler?.unitTemperature);
    const first = await model.commit(commit.tokens, commit.features, commit.rows, this.k);
    if (first.rows !== 1) {
      throw new ContractError(
        `a draft model's commit must return its newest row alone; it returned ${first.rows} rows`,
      );
    }
    const deepest = Math.min(
      expandableDepth(context.room, model.maxContext, model.committedRows),
      context.maxDepth - 1,
    );
    this.predicted.set(first.hidden.subarray(0, hidden), 0);
    growth.begin(context.tokens[context.length - 1]);
    if (growth.nextFrontier(this.frontier) !== 1 || this.frontier[0] !== 0) {
      throw new ContractError('a tree growth must expand the root first, alone');
    }
    this.draftRowOf[0] = -1;
    this.addChildren(0, first, 0, 0);

    for (let n = growth.nextFrontier(this.frontier); n > 0; n = growth.nextFrontier(this.frontier)) {
      n = keepShallow(growth, this.frontier, n, deepest);
      if (n === 0) continue;
      const firstRow = model.draftRows;
      const committed = model.committedRows;
      const width = committed + firstRow + n;
      for (let j = 0; j < n; j++) {
        const node = this.frontier[j];
        this.tokens[j] = growth.tokenOf(node);
        this.positions[j] = committed + growth.depthOf(node) - 1;
        const src = this.sourceOf[node] * hidden;
        this.rowFeatures.set(this.predicted.subarray(src, src + hidden), j * hidden);
        const row = j * width;
        this.bias.fill(0, row, row + committed);
        this.bias.fill(MASKED_BIAS, row + committed, row + width);
        for (let a = node; a > 0; a = growth.parentOf(a)) {
          const draftRow = a === node ? firstRow + j : this.draftRowOf[a];
          this.bias[row + committed + draftRow] = 0;
        }
      }
      const step = await model.draft(this.tokens, this.rowFeatures, this.positions, this.bias, n, this.k);
      for (let j = 0; j < n; j++) {
        const node = this.frontier[j];
        const draftRow = firstRow + j;
        this.draftRowOf[node] = draftRow;
        this.predicted.set(step.hidden.subarray(j * hidden, (j + 1) * hidden), (1 + draftRow) * hidden);
        this.addChildren(node, step, j, 1 + draftRow);
      }
    }
    growth.finish(tree);
    if (this.sampler) {
      tree.candidateKind = 'sampled-distinct';
      tree.draftDistributions = this.sampler.distributions;
      tree.draftSupport = this.sampler.support;
    }
  }

  observe(outcome: DraftOutcome): void {
    this.growth.observe?.(outcome);
  }

  async dispose(): Promise<void> {
    await this.model.dispose?.();
  }
}

/**
 * The deepest node whose children still fit: children at depth d + 1 need the target to take
 * d + 2 nodes (`room` counts the root), and the node's own draft row sits at position
 * `committed + d - 1`, which the draft model's context must hold.
 */
function expandableDepth(room: number, maxContext: number, committed: number): number {
  return Math.min(room - 2, maxContext - committed);
}

/** Moves the frontier nodes no deeper than `deepest` to the front and returns how many there are. */
function keepShallow(growth: TreeGrowth, frontier: Int32Array, n: number, deepest: number): number {
  let kept = 0;
  for (let j = 0; j < n; j++) {
    const node = frontier[j];
    if (growth.depthOf(node) <= deepest) frontier[kept++] = node;
  }
  return kept;
}
