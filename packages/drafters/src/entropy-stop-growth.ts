import {
  type DraftOutcome,
  type DraftTree,
  OptionError,
  requireInteger,
  requireNumber,
  type TreeGrowth,
} from '@treespec/core';

/** Options of {@link EntropyStopGrowth}. */
export interface EntropyStopOptions {
  /** γ in the bound 1 − √(γ · H). Default 0.2 (AdaEDL's). */
  entropyFactor?: number;
  /** λ: a branch stops where the bound falls below it. Default 0.3. */
  threshold?: number;
  /** Nodes shallower than this are always expanded. Default 1 (only the root is). */
  minDepth?: number;
  /**
   * Adapt λ to the measured acceptance, after AdaEDL's Algorithm 1; needs {@link EntropyStopGrowth.observe}
   * to be called after each verification. `true` uses the defaults. Default off (λ fixed).
   */
  adapt?: boolean | ThresholdAdaptation;
}

/** How λ follows the acceptance rate: AdaEDL's defaults. */
export interface ThresholdAdaptation {
  /** Acceptance rate per drafted depth that λ steers towards. Default 0.9. */
  targetAcceptance?: number;
  /** Step of λ per round. Default 0.01. */
  step?: number;
  /** Weight of the past in the acceptance-rate moving average (β1). Default 0.5. */
  acceptanceMemory?: number;
  /** Weight of the past in λ's moving average (β2). Default 0.9. */
  thresholdMemory?: number;
}

/**
 * Adaptive draft length for any autoregressive drafter (AdaEDL: Agrawal, Jeon & Lee, 2024): a
 * {@link TreeGrowth} decorator that stops growing a branch once the draft's own entropy says its
 * tokens are unlikely to be accepted.
 *
 * AdaEDL bounds the acceptance probability of a token drafted from distribution q by
 * 1 − √(γ · H(q)), H in nats. Here, when a frontier node would be expanded, the bound of the
 * distribution it was drafted from (its parent's) is checked: below λ the node is unlikely to be
 * accepted, so it stays a leaf and no draft call is spent beyond it. The node itself stays in the
 * tree (its parent's draft call already paid for it). When no frontier node qualifies, growth ends:
 * fewer draft-model calls on uncertain text, unchanged output (verification decides what is kept).
 *
 * H(q) is the exact entropy when the drafter reports it ({@link EntropyStopGrowth.reportEntropy});
 * otherwise it is bounded from the children's log-probabilities that `addChild` sees (a top-k
 * head reports no more): with known probabilities p₁ ≥ … ≥ p_k and the rest r = 1 − Σpᵢ spread over
 * tokens each at most p_k likely, H ≥ −Σ pᵢ log pᵢ + r · (−log p_k). The estimate never exceeds the
 * true entropy, so a branch stopped on it would also be stopped with the full distribution. The
 * bound assumes distinct children, best first (top-k drafting); a drafter that samples its
 * children should report the entropy instead.
 *
 * Combine with EAGLE-2's dynamic depth by wrapping a `DynamicTreeGrowth({ minFrontierProbability })`.
 */
export class EntropyStopGrowth implements TreeGrowth {
  readonly inner: TreeGrowth;
  readonly entropyFactor: number;
  readonly minDepth: number;
  /** Current λ (changes when adapting). */
  threshold: number;
  /** Frontier nodes left unexpanded by the entropy rule since construction. */
  stoppedNodes = 0;
  private readonly adaptation: Required<ThresholdAdaptation> | null;
  private acceptanceRate: number;
  private stoppedThisTree = false;
  private readonly mass: Float64Array;
  private readonly entropySum: Float64Array;
  private readonly minLogProb: Float64Array;
  private readonly exactEntropy: Float64Array;
  /** Per node: 0 undecided, 1 its children may grow, 2 they stay leaves. */
  private readonly verdict: Uint8Array;

  constructor(inner: TreeGrowth, options: EntropyStopOptions = {}) {
    this.inner = inner;
    this.entropyFactor = requireNumber('entropyFactor', options.entropyFactor ?? 0.2, {
      min: 0,
      minExclusive: true,
    });
    this.threshold = requireNumber('threshold', options.threshold ?? 0.3, { min: 0, max: 1 });
    this.minDepth = requireInteger('minDepth', options.minDepth ?? 1, 1);
    this.adaptation = resolveAdaptation(options.adapt ?? false);
    this.acceptanceRate = this.adaptation?.targetAcceptance ?? 0;
    const n = inner.maxNodes;
    this.mass = new Float64Array(n);
    this.entropySum = new Float64Array(n);
    this.minLogProb = new Float64Array(n);
    this.exactEntropy = new Float64Array(n);
    this.verdict = new Uint8Array(n);
  }

  get maxNodes(): number {
    return this.inner.maxNodes;
  }
  get maxTreeSize(): number {
    return this.inner.maxTreeSize;
  }
  get maxDepth(): number {
    return this.inner.maxDepth;
  }
  get maxFrontier(): number {
    return this.inner.maxFrontier;
  }
  get maxChildren(): number {
    return this.inner.maxChildren;
  }
  get prunes(): boolean {
    return this.inner.prunes;
  }
  get generated(): number {
    return this.inner.generated;
  }

  begin(rootToken: number): void {
    this.inner.begin(rootToken);
    this.stoppedThisTree = false;
    this.clearNode(0);
  }

  nextFrontier(out: Int32Array): number {
    const n = this.inner.nextFrontier(out);
    let kept = 0;
    for (let f = 0; f < n; f++) {
      const node = out[f];
      if (this.inner.depthOf(node) < this.minDepth || this.mayGrowBelow(this.inner.parentOf(node))) {
        out[kept++] = node;
      } else {
        this.stoppedNodes++;
        this.stoppedThisTree = true;
      }
    }
    return kept;
  }

  childrenWanted(node: number): number {
    return this.inner.childrenWanted(node);
  }

  addChild(parent: number, token: number, logProb: number): number {
    const l = Math.min(0, logProb);
    const p = Math.exp(l);
    this.mass[parent] += p;
    if (p > 0) this.entropySum[parent] -= p * l;
    if (l < this.minLogProb[parent]) this.minLogProb[parent] = l;
    const child = this.inner.addChild(parent, token, logProb);
    if (child >= 0) this.clearNode(child);
    return child;
  }

  /**
   * Reports the exact entropy (nats) of the draft distribution at `node`, the one its children
   * are drawn from; used instead of the top-k bound. Call before the node's children grow.
   */
  reportEntropy(node: number, entropy: number): void {
    this.exactEntropy[node] = entropy;
  }

  /** The entropy used for `node`'s distribution: reported, or bounded from its children. */
  entropyOf(node: number): number {
    const exact = this.exactEntropy[node];
    if (!Number.isNaN(exact)) return exact;
    if (this.mass[node] === 0) return 0;
    const rest = Math.max(0, 1 - this.mass[node]);
    return this.entropySum[node] + rest * -this.minLogProb[node];
  }

  /** AdaEDL's lower bound on the acceptance probability of a token drafted at `node`. */
  acceptanceBound(node: number): number {
    return 1 - Math.sqrt(this.entropyFactor * this.entropyOf(node));
  }

  /** Passes a per-step cap on to the inner growth. */
  capNext(depth: number, nodes: number): void {
    this.inner.capNext?.(depth, nodes);
  }

  /**
   * Adapts λ after a verification of this growth's latest tree (when adapting): the acceptance
   * rate per drafted depth, a moving average, pushes λ up when below the target (stop sooner) and
   * down when above it while branches were being stopped (draft further); λ itself moves smoothly.
   */
  observe(outcome: DraftOutcome): void {
    const a = this.adaptation;
    if (!a) return;
    const drafted = outcome.tree.maxDepth();
    if (drafted === 0) return;
    const rate = (outcome.pathLength - 1) / drafted;
    this.acceptanceRate = a.acceptanceMemory * this.acceptanceRate + (1 - a.acceptanceMemory) * rate;
    let goal = this.threshold;
    if (this.acceptanceRate < a.targetAcceptance) goal += a.step;
    else if (this.stoppedThisTree) goal -= a.step;
    const next = a.thresholdMemory * this.threshold + (1 - a.thresholdMemory) * goal;
    this.threshold = Math.min(1, Math.max(0, next));
  }

  tokenOf(node: number): number {
    return this.inner.tokenOf(node);
  }
  parentOf(node: number): number {
    return this.inner.parentOf(node);
  }
  depthOf(node: number): number {
    return this.inner.depthOf(node);
  }
  scoreOf(node: number): number {
    return this.inner.scoreOf(node);
  }

  finish(tree: DraftTree): void {
    this.inner.finish(tree);
  }

  private mayGrowBelow(parent: number): boolean {
    if (this.verdict[parent] === 0)
      this.verdict[parent] = this.acceptanceBound(parent) < this.threshold ? 2 : 1;
    return this.verdict[parent] === 1;
  }

  private clearNode(node: number): void {
    this.mass[node] = 0;
    this.entropySum[node] = 0;
    this.minLogProb[node] = 0;
    this.exactEntropy[node] = Number.NaN;
    this.verdict[node] = 0;
  }
}

function resolveAdaptation(adapt: boolean | ThresholdAdaptation): Required<ThresholdAdaptation> | null {
  if (adapt === false) return null;
  const a = adapt === true ? {} : adapt;
  if (typeof a !== 'object' || a === null) throw new OptionError('adapt', adapt, 'a boolean or an object');
  const unit = { min: 0, max: 1 };
  return {
    targetAcceptance: requireNumber('adapt.targetAcceptance', a.targetAcceptance ?? 0.9, unit),
    step: requireNumber('adapt.step', a.step ?? 0.01, unit),
    acceptanceMemory: requireNumber('adapt.acceptanceMemory', a.acceptanceMemory ?? 0.5, unit),
    thresholdMemory: requireNumber('adapt.thresholdMemory', a.thresholdMemory ?? 0.9, unit),
  };
}
