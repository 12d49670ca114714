import type { GenerationStats } from '@treespec/core';

/** A generation's statistics, with the worker's posting time when it ran in one (see `WorkerResult`). */
export interface CostedRun {
  stats: GenerationStats;
  /** Default 0. */
  postMs?: number;
}

/** Where a speculative generation's decoding time went, per step, beside a plain run of the same prompt. */
export interface StepCosts {
  /** Verification steps of the speculative run (plain steps the controller chose included). */
  steps: number;
  /** Mean nodes per verified tree, root included. */
  treeNodes: number;
  /** Mean milliseconds per step: all of it, and its parts. */
  stepMs: number;
  draftMs: number;
  verifyMs: number;
  /** Accepting, committing, stop checks and streaming: the step's time outside draft and verify. */
  otherMs: number;
  /** Of `otherMs` and the rest: the worker's time turning trees, text and statistics into messages. */
  postMs: number;
  /** Mean milliseconds per token of the plain run (a target call for one token plus its upkeep), or null. */
  plainTokenMs: number | null;
  /** Mean milliseconds of the plain run's target call alone, or null. */
  plainCallMs: number | null;
  /**
   * The budget controller's verification cost by tree size: `[nodes, ms, ms ÷ plain call]`
   * (the ratio null without a plain run).
   */
  verifyByNodes: Array<[number, number, number | null]>;
  /** The controller's draft cost by tree depth: `[depth, ms]`. */
  draftByDepth: Array<[number, number]>;
}

/**
 * The per-step cost split of a speculative run, beside a plain run of the same prompt when there is
 * one: what the page shows under "where a step's time goes", and what `measure` reports.
 */
export function stepCosts(spec: CostedRun, plain: CostedRun | null): StepCosts {
  const s = spec.stats;
  const steps = Math.max(s.steps, 1);
  const decodeMs = s.totalMs - s.prefillMs;
  const plainSteps = plain ? Math.max(plain.stats.steps, 1) : 0;
  const plainCallMs = plain ? plain.stats.verifyMs / plainSteps : null;
  const costs = s.controller?.costs;
  return {
    steps: s.steps,
    treeNodes: s.meanTreeSize,
    stepMs: decodeMs / steps,
    draftMs: s.draftMs / steps,
    verifyMs: s.verifyMs / steps,
    otherMs: s.bookkeepingMs / steps,
    postMs: (spec.postMs ?? 0) / steps,
    plainTokenMs: plain ? (plain.stats.totalMs - plain.stats.prefillMs) / plainSteps : null,
    plainCallMs,
    verifyByNodes: (costs?.verify ?? []).map(([nodes, ms]) => [
      nodes,
      ms,
      plainCallMs ? ms / plainCallMs : null,
    ]),
    draftByDepth: costs?.draft ?? [],
  };
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : '–';
}

/**
 * The split in one line, e.g. "step 5.70 ms = draft 1.20 + verify 3.90 (2.1 nodes) + other 0.60
 * (posting 0.05); plain token 3.00 ms. Verify ÷ plain call: 2 nodes 1.2×, 5 nodes 1.9×. Draft:
 * depth 1 0.90 ms, depth 2 1.70 ms."
 */
export function describeStepCosts(c: StepCosts): string {
  const parts = [
    `step ${ms(c.stepMs)} ms = draft ${ms(c.draftMs)} + verify ${ms(c.verifyMs)} ` +
      `(${c.treeNodes.toFixed(1)} nodes) + other ${ms(c.otherMs)} (posting ${ms(c.postMs)})` +
      (c.plainTokenMs === null ? '.' : `; plain token ${ms(c.plainTokenMs)} ms.`),
  ];
  const ratios = c.verifyByNodes.filter(([nodes, , ratio]) => nodes > 1 && ratio !== null);
  if (ratios.length > 0) {
    parts.push(
      `Verify ÷ plain call: ${ratios.map(([nodes, , ratio]) => `${nodes} nodes ${(ratio as number).toFixed(1)}×`).join(', ')}.`,
    );
  }
  if (c.draftByDepth.length > 0) {
    parts.push(`Draft: ${c.draftByDepth.map(([depth, t]) => `depth ${depth} ${ms(t)} ms`).join(', ')}.`);
  }
  return parts.join(' ');
}
