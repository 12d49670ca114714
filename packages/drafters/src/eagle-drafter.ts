import {
  ContractError,
  type DraftContext,
  type Drafter,
  type DraftHead,
  type DraftHeadStep,
  type DraftOutcome,
  type DraftTree,
  DynamicTreeGrowth,
  type DynamicTreeOptions,
  MASKED_BIAS,
  type TreeGrowth,
} from '@treespec/core';

/** Options of {@link EagleDrafter}. */
export interface EagleDrafterOptions {
  /** The shape of the trees; default an EAGLE-2 dynamic tree with {@link EagleDrafterOptions.tree}. */
  growth?: TreeGrowth;
  /** EAGLE-2 budget when no `growth` is given. Defaults: topK 8, depth 5, totalTokens 32. */
  tree?: DynamicTreeOptions;
}

/**
 * EAGLE-1/2 drafting with a feature head. Each step it first shows the head the target's
 * features for the newly committed tokens (as committed rows), then grows the tree one depth per
 * head call: every frontier node becomes a draft row `(its token, the predicted feature of the
 * row that proposed it)` at position `committed + depth - 1`, attending to the committed rows
 * and its own ancestors' draft rows; the row's top-k become the node's children.
 *
 * With the default dynamic growth this is EAGLE-2; with a static shape it is EAGLE-1.
 */
export class EagleDrafter implements Drafter {
  readonly name: string;
  readonly needsFeatures = true;
  readonly maxTreeSize: number;
  readonly head: DraftHead;
  readonly growth: TreeGrowth;
  private readonly k: number;
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

  constructor(head: DraftHead, options: EagleDrafterOptions = {}) {
    this.head = head;
    this.growth = options.growth ?? new DynamicTreeGrowth(options.tree);
    this.name = this.growth.prunes ? 'eagle2' : 'eagle1';
    this.maxTreeSize = this.growth.maxTreeSize;
    this.k = this.growth.maxChildren;
    const hidden = head.hiddenSize;
    const batch = this.growth.maxFrontier;
    if (batch > head.maxDraftBatch) {
      throw new ContractError(
        `the tree needs draft batches of ${batch} rows but the head takes at most ${head.maxDraftBatch}`,
      );
    }
    const maxDraftRows = this.growth.maxNodes;
    this.frontier = new Int32Array(batch);
    this.tokens = new Int32Array(batch);
    this.positions = new Int32Array(batch);
    this.rowFeatures = new Float32Array(batch * hidden);
    this.bias = new Float32Array(batch * (head.maxContext + maxDraftRows + batch));
    this.predicted = new Float32Array((1 + maxDraftRows) * hidden);
    this.sourceOf = new Int32Array(this.growth.maxNodes);
    this.draftRowOf = new Int32Array(this.growth.maxNodes);
  }

  reset(): void {
    this.head.reset();
  }

  async propose(context: DraftContext, tree: DraftTree): Promise<void> {
    const { head, growth } = this;
    const hidden = head.hiddenSize;
    if (context.featureRows > 0) {
      if (!context.features || context.featureSize !== hidden) {
        throw new ContractError(
          `the EAGLE head needs target features of width ${hidden}; got ${context.features ? context.featureSize : 'none'}`,
        );
      }
      const start = context.featureStart + 1;
      const step = await head.commit(
        context.tokens.subarray(start, start + context.featureRows),
        context.features,
        context.featureRows,
        this.k,
      );
      this.expandRoot(step, context.tokens[context.length - 1]);
    } else if (head.committedRows === 0) {
      return;
    } else {
      throw new ContractError(
        'the EAGLE drafter was called without the features of the newly committed tokens',
      );
    }

    for (let n = growth.nextFrontier(this.frontier); n > 0; n = growth.nextFrontier(this.frontier)) {
      const firstRow = head.draftRows;
      const committed = head.committedRows;
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
      const step = await head.draft(this.tokens, this.rowFeatures, this.positions, this.bias, n, this.k);
      for (let j = 0; j < n; j++) {
        const node = this.frontier[j];
        const draftRow = firstRow + j;
        this.draftRowOf[node] = draftRow;
        this.predicted.set(step.hidden.subarray(j * hidden, (j + 1) * hidden), (1 + draftRow) * hidden);
        this.addChildren(node, step, j, 1 + draftRow);
      }
    }
    growth.finish(tree);
  }

  observe(outcome: DraftOutcome): void {
    this.growth.observe?.(outcome);
  }

  async dispose(): Promise<void> {
    await this.head.dispose?.();
  }

  /** Starts the tree at the root with the children predicted by the newest committed row. */
  private expandRoot(step: DraftHeadStep, rootToken: number): void {
    const hidden = this.head.hiddenSize;
    const last = step.rows - 1;
    this.predicted.set(step.hidden.subarray(last * hidden, (last + 1) * hidden), 0);
    const { growth } = this;
    growth.begin(rootToken);
    const n = growth.nextFrontier(this.frontier);
    if (n !== 1 || this.frontier[0] !== 0)
      throw new ContractError('a tree growth must expand the root first, alone');
    this.draftRowOf[0] = -1;
    this.addChildren(0, step, last, 0);
  }

  private addChildren(node: number, step: DraftHeadStep, row: number, source: number): void {
    const { growth } = this;
    const wanted = growth.childrenWanted(node);
    const base = row * step.k;
    for (let r = 0; r < wanted && r < step.k; r++) {
      const child = growth.addChild(node, step.topTokens[base + r], step.topLogProbs[base + r]);
      if (child >= 0) {
        this.sourceOf[child] = source;
        this.draftRowOf[child] = -1;
      }
    }
  }
}
