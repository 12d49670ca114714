/**
 * What a budget controller knows about step costs on one machine and provider, as plain data: a
 * `treespec tune` run stores it (per model, provider and machine) and the loaders hand it back, so
 * the controller starts from measured costs instead of learning them during the first steps.
 */
export interface ControllerSeed {
  /** `[treeSize, ms]` pairs: how long verifying a tree of that many nodes (root included) took. */
  verifyMs: ReadonlyArray<readonly [number, number]>;
  /** `[depth, ms]` pairs: how long drafting a tree of that many depths took. */
  draftMs: ReadonlyArray<readonly [number, number]>;
  /** Per-step time outside drafting and verification (acceptance walk, stop checks, streaming). */
  overheadMs?: number;
}
