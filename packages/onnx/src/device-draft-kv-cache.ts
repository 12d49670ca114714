import { ContractError } from '@treespec/core';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { compactionModel } from './compaction-graph.js';
import { DeviceCacheTensors } from './device-cache-tensors.js';
import { compactionOutputLocations, type OutputPlacement } from './device-kv-cache.js';
import type { DraftCacheNames, DraftKvCache } from './draft-kv-cache.js';
import type { KvDtype } from './kv-cache.js';
import type { ManifestModel } from './manifest-schema.js';
import { causalLmLayout, eagle3HeadLayout, eagleHeadLayout } from './model-layout.js';

/** What a host opens to keep a draft model's KV cache on the device: see {@link draftDeviceCacheSetup}. */
export interface DraftDeviceCacheSetup {
  /** The draft model session's `preferredOutputLocation`. */
  readonly modelOutputs: OutputPlacement;
  /** The compaction graph to open on the same provider, passed to the runner as `compaction`. */
  readonly compaction: Uint8Array;
  /** The compaction session's `preferredOutputLocation`. */
  readonly compactionOutputs: OutputPlacement;
}

/**
 * How to open a draft model (an EAGLE-2/3 head, or a draft LM) whose cache is a
 * {@link DeviceDraftKvCache}: its new entries (`present_*`) and the outputs its runner does not
 * read (a head's `logits` unless `logits`, a draft LM's `feature`) stay on the device, the rest
 * come to the host (a head's step in one tensor where it has `names.stepOutputs`, whose parts stay on
 * the device); the compaction graph for its cache, its outputs on the device too.
 */
export function draftDeviceCacheSetup(model: ManifestModel, logits: boolean): DraftDeviceCacheSetup {
  let layers: number;
  let kvHeads: number;
  let headDim: number;
  let onDevice: string[];
  if (model.graph === 'causal-lm') {
    const layout = causalLmLayout(model);
    ({ layers, kvHeads, headDim } = layout);
    const { presentKeys, presentValues, cache, feature } = layout.names;
    onDevice = [
      ...presentKeys,
      ...presentValues,
      ...(cache ? [...cache.keys, ...cache.values] : []),
      ...(feature ? [feature] : []),
    ];
  } else {
    const layout = model.graph === 'eagle3-head' ? eagle3HeadLayout(model) : eagleHeadLayout(model);
    ({ kvHeads, headDim } = layout);
    layers = 1;
    const { presentKey, presentValue, cache, stepOutputs, hidden, topLogProbs } = layout.names;
    onDevice = [
      presentKey,
      presentValue,
      ...(cache ? [cache.key, cache.value] : []),
      ...(logits ? [] : [layout.names.logits]),
      ...(stepOutputs ? [hidden, topLogProbs] : []),
    ];
  }
  return {
    modelOutputs: Object.fromEntries(onDevice.map((name) => [name, 'gpu-buffer' as const])),
    compaction: compactionModel(layers, kvHeads, headDim, model.dtype),
    compactionOutputs: compactionOutputLocations(layers),
  };
}

/**
 * A draft model's plain-attention KV cache kept as ONNX Runtime's own output tensors, so that on a
 * GPU provider (the model's `present_*` and `cache_*` outputs and the compaction's outputs
 * preferred on `gpu-buffer`) it never leaves the device. Each call's past inputs are the tensors
 * the last call left: a model that outputs its cache after the call (`cache_*`, past rows then new
 * ones) leaves them itself; for an older one, the compaction session ({@link compactionModel},
 * keeping every new row in order) appends the call's new entries in a call of its own,
 * `Concat(past, Gather(new, 0..rows))` per layer. The committed rows are kept as their own
 * tensors, so dropping a round's draft rows releases the tensors drafted on top of them and feeds
 * the committed ones again, moving no data. Nothing of the cache crosses to the host; on the CPU
 * provider the same tensors are host tensors, which is how CI exercises this path.
 *
 * Every output of a call is fetched (with outputs preferred on the device, onnxruntime-node 1.30
 * fails later calls of a session that left some out); those the caller does not read are disposed
 * at once. An append only starts the compaction; the next call waits for it. Tensors no longer
 * referenced are disposed, releasing their device memory.
 */
export class DeviceDraftKvCache extends DeviceCacheTensors implements DraftKvCache {
  private committedRows = 0;
  private readonly names: DraftCacheNames;
  /** The outputs a call leaves for the cache: `cache_*` where the model has them, else `present_*`. */
  private readonly kept: ReadonlySet<string>;
  /** The committed rows' tensors; the next call attends to these, or to those with draft rows appended. */
  private readonly committedKeys: Tensor[];
  private readonly committedValues: Tensor[];

  /**
   * @param session the compaction session of `compactionModel(layers, kvHeads, headDim, dtype)`,
   *   on the provider of the draft model whose cache this is.
   * @param names the draft model's cache inputs and outputs, one per layer.
   * @param maxRows most new rows of one call.
   */
  constructor(
    session: InferenceSession,
    names: DraftCacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    maxRows: number,
  ) {
    super(session, names.pastKeys.length, kvHeads, headDim, capacity, dtype, maxRows);
    this.names = names;
    this.kept = new Set(
      names.cache
        ? [...names.cache.keys, ...names.cache.values]
        : [...names.presentKeys, ...names.presentValues],
    );
    // Every append keeps all of a call's new rows, in order.
    this.compaction.keepRows(null, maxRows);
    this.committedKeys = new Array<Tensor>(this.layers).fill(this.compaction.empty);
    this.committedValues = new Array<Tensor>(this.layers).fill(this.compaction.empty);
  }

  async run(
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    fetches: readonly string[],
    rows: number,
    committed: boolean,
  ): Promise<InferenceSession.ReturnType> {
    if (committed && this.length !== this.committedRows) {
      throw new ContractError('committed rows of a draft model follow dropDrafts() or reset()');
    }
    const { names } = this;
    await this.feedPast(feeds, names);
    const out = await session.run(feeds, session.outputNames);
    for (const name of session.outputNames)
      if (!fetches.includes(name) && !this.kept.has(name)) out[name]!.dispose();
    this.length += rows;
    if (committed) this.committedRows = this.length;
    if (names.cache) {
      const keys = names.cache.keys.map((name) => out[name]!);
      const values = names.cache.values.map((name) => out[name]!);
      this.pending = this.pending.then(() => this.keep(keys, values, committed));
    } else {
      const newKeys = names.presentKeys.map((name) => out[name]!);
      const newValues = names.presentValues.map((name) => out[name]!);
      this.pending = this.pending.then(() => this.append(newKeys, newValues, rows, committed));
    }
    return out;
  }

  /** Drops the draft rows (after the running append), releasing their tensors. */
  dropDrafts(): void {
    this.length = this.committedRows;
    this.pending = this.pending.then(() => this.restoreCommitted());
  }

  reset(): void {
    this.length = 0;
    this.committedRows = 0;
    this.pending = this.pending
      .catch(() => undefined)
      .then(() => {
        this.restoreCommitted();
        const { compaction } = this;
        for (let l = 0; l < this.layers; l++) {
          compaction.release(this.committedKeys[l]!);
          compaction.release(this.committedValues[l]!);
          this.committedKeys[l] = compaction.empty;
          this.committedValues[l] = compaction.empty;
          this.keys[l] = compaction.empty;
          this.values[l] = compaction.empty;
        }
      });
  }

  private async append(
    newKeys: Tensor[],
    newValues: Tensor[],
    rows: number,
    committed: boolean,
  ): Promise<void> {
    const { compaction } = this;
    try {
      await compaction.append(this.keys, this.values, newKeys, newValues, rows);
      this.keep(compaction.keptKeys, compaction.keptValues, committed);
    } finally {
      for (let l = 0; l < this.layers; l++) {
        newKeys[l]!.dispose();
        newValues[l]!.dispose();
      }
    }
  }

  /**
   * Makes `keys`/`values` (per layer, every row the next call attends to) the cache's tensors,
   * and its committed ones when `committed`, releasing those they replace.
   */
  private keep(keys: readonly Tensor[], values: readonly Tensor[], committed: boolean): void {
    const { compaction } = this;
    for (let l = 0; l < this.layers; l++) {
      this.releaseDraft(l);
      if (committed) {
        compaction.release(this.committedKeys[l]!);
        compaction.release(this.committedValues[l]!);
        this.committedKeys[l] = keys[l]!;
        this.committedValues[l] = values[l]!;
      }
      this.keys[l] = keys[l]!;
      this.values[l] = values[l]!;
    }
  }

  private restoreCommitted(): void {
    for (let l = 0; l < this.layers; l++) {
      this.releaseDraft(l);
      this.keys[l] = this.committedKeys[l]!;
      this.values[l] = this.committedValues[l]!;
    }
  }

  /** Releases layer `l`'s tensors with draft rows, if the next call's are not the committed ones. */
  private releaseDraft(l: number): void {
    if (this.keys[l] !== this.committedKeys[l]) this.compaction.release(this.keys[l]!);
    if (this.values[l] !== this.committedValues[l]) this.compaction.release(this.values[l]!);
  }
}
