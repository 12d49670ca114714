import { ContextOverflowError, ContractError } from '@treespec/core';
import { type InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames, CausalLmCache, RowOutputs } from './causal-lm-cache.js';
import { compactionNames } from './compaction-graph.js';
import { DeviceCacheTensors } from './device-cache-tensors.js';
import type { KvDtype } from './kv-cache.js';
import { LOGITS_COPY_NAMES, WEIGHTS_COPY_NAMES } from './logits-copy-graph.js';
import { layerName, type ManifestModel } from './manifest-schema.js';
import type { CausalLmLayout } from './model-layout.js';

/** The sessions that bring outputs a target left on the device to the host, for the calls that read them. */
export interface DeviceCacheCopies {
  /** The session of `logitsCopyModel(vocab)`, for a target whose logits stay on the device. */
  readonly logits?: InferenceSession;
  /** The session of `weightsCopyModel(vocab)`, for a target whose sampled rows' weights stay there. */
  readonly weights?: InferenceSession;
}

/** Where ONNX Runtime puts a session output (onnxruntime-common's `preferredOutputLocation` values). */
export type OutputLocation = 'cpu' | 'gpu-buffer';

/** Output name → where ONNX Runtime leaves it (a session's `preferredOutputLocation`). */
export type OutputPlacement = Readonly<Record<string, OutputLocation>>;

/**
 * The `preferredOutputLocation` of a causal LM whose cache is a {@link DeviceKvCache} on a GPU
 * provider: its new entries (`present_*`) and its cache after the call (`cache_*`, where the model
 * outputs it) stay on the device, and so do the outputs few calls read or none: its logits where
 * the model also outputs each row's greedy token (`names.greedy`, which comes to the host with the
 * features; {@link logitsStayOnDevice}), its sampled rows' weights and their sums
 * (`names.sampler.weights`, `names.sampler.mass`) and the feature output the runner does not read
 * (`names.unread`). Every output a call brings to the host is a download of its own, a wait on the
 * device: where the model packs what a call reads into `names.rowOutputs`, the features, greedy
 * tokens, logit sums and drawn tokens stay there too and that one tensor comes down. Logits and
 * weights on the device reach the host only through a {@link logitsCopyModel} or
 * {@link weightsCopyModel} session, for the calls that read them.
 */
export function deviceCacheOutputLocations(layout: CausalLmLayout): OutputPlacement {
  const { presentKeys, presentValues, cache, logits, sampler, unread } = layout.names;
  return Object.fromEntries(
    [
      ...presentKeys,
      ...presentValues,
      ...(cache ? [...cache.keys, ...cache.values] : []),
      ...(logitsStayOnDevice(layout) ? [logits] : []),
      ...(sampler?.weights && sampler.mass ? [sampler.weights, sampler.mass] : []),
      ...(unread ?? []),
      ...packedRowOutputs(layout.names),
    ].map((name) => [name, 'gpu-buffer' as const]),
  );
}

/**
 * The outputs of `model` that only caches on a GPU device read: each layer's cache after the call
 * (`outputs.cacheKey`, `outputs.cacheValue`) and a target's packed row outputs
 * (`outputs.rowOutputs`, `outputs.capturedRowOutputs`). Host caches never fetch them, so a host
 * opens the model without them ({@link withoutOutputs}): ONNX Runtime would otherwise keep every
 * layer's concatenated cache in a buffer of its own on each call (at 1000 cached tokens, 0.25–0.85 ms
 * of the tiny target's 3–4 ms plain token on the CPU).
 */
export function deviceOnlyOutputs(model: ManifestModel): string[] {
  const { cacheKey, cacheValue, rowOutputs, capturedRowOutputs } = model.outputs;
  const layers = Array.from({ length: model.dims.layers }, (_, l) => l);
  return [
    ...(cacheKey ? layers.map((l) => layerName(cacheKey, l)) : []),
    ...(cacheValue ? layers.map((l) => layerName(cacheValue, l)) : []),
    ...(rowOutputs ? [rowOutputs] : []),
    ...(capturedRowOutputs ? [capturedRowOutputs] : []),
  ];
}

/**
 * The outputs of `model` that its KV cache never reads where the cache is kept (`host` memory or a
 * GPU `device`), which the host opens the model without ({@link withoutOutputs}): on the host,
 * {@link deviceOnlyOutputs}, and each layer's `present_*` where the model packs them into
 * `outputs.presentRows`, which a host cache fetches in their place; on a device,
 * `outputs.presentRows`.
 */
export function unreadOutputs(model: ManifestModel, cache: 'host' | 'device'): string[] {
  const { presentRows, presentKey, presentValue } = model.outputs;
  if (cache === 'device') return presentRows ? [presentRows] : [];
  const layers = Array.from({ length: model.dims.layers }, (_, l) => l);
  return [
    ...deviceOnlyOutputs(model),
    ...(presentRows ? layers.flatMap((l) => [layerName(presentKey, l), layerName(presentValue, l)]) : []),
  ];
}

/** The outputs `names.rowOutputs` packs, where the model has it: what a call reads of its rows. */
function packedRowOutputs(names: CacheNames): string[] {
  const { rowOutputs, greedy, sampler, feature } = names;
  if (rowOutputs === undefined || greedy === undefined) return [];
  return [feature, greedy.token, greedy.logitSum, ...(sampler ? [sampler.token] : [])];
}

/**
 * Whether {@link deviceCacheOutputLocations} leaves the logits on the device: when the model
 * outputs each row's greedy token, so a greedy verification needs no logits on the host. Older
 * bundles, without those outputs, download every call's logits.
 */
export function logitsStayOnDevice(layout: CausalLmLayout): boolean {
  return layout.names.greedy !== undefined;
}

/** The `preferredOutputLocation` of a compaction session whose kept rows stay on the device. */
export function compactionOutputLocations(layers: number): OutputPlacement {
  const { keptKeys, keptValues } = compactionNames(layers);
  return Object.fromEntries([...keptKeys, ...keptValues].map((name) => [name, 'gpu-buffer' as const]));
}

/**
 * A plain-attention KV cache kept as ONNX Runtime's own output tensors, so that on a GPU provider
 * (sessions whose `present_*`, `cache_*` and kept rows are preferred on `gpu-buffer`) it never
 * leaves the device: each call's past inputs are the tensors the last commit left. A commit that
 * keeps every row of the call in order (`slots` null: a prefill chunk, a plain token, a chain
 * accepted whole) takes the call's own cache outputs (`cache_*`: the cached rows then the new ones)
 * where the model has them, running nothing; any other commit runs the compaction session
 * ({@link compactionModel}) on the new-entry outputs the call held, keeping the accepted rows after
 * the cached ones. Nothing of the cache crosses to the host. On the CPU provider the same tensors
 * are host tensors, which is how CI exercises this path.
 *
 * Logits and sampled rows' weights the model leaves on the device too
 * ({@link deviceCacheOutputLocations}) are copied to the host by the copy sessions only for calls
 * that read them; the other calls' are released where they are, as is an unread feature output.
 *
 * A commit only starts the compaction; {@link DeviceKvCache.ready} waits for it, so that it
 * overlaps with whatever the caller does before the next model call (a drafter's call may then
 * start while it runs: hosts whose runtime cannot run two sessions at once, such as
 * onnxruntime-web's WebGPU build, queue their sessions' calls). Tensors no longer referenced are
 * disposed, releasing their device memory.
 */
export class DeviceKvCache extends DeviceCacheTensors implements CausalLmCache {
  /** Whether {@link run} returns each row's greedy token: whenever the model outputs it. */
  readonly greedyOutputs: boolean;
  /** Whether {@link run} returns the token the model drew for each row: whenever the model draws them. */
  readonly sampledOutputs: boolean;
  private readonly names: CacheNames;
  /** The copy sessions, for models whose logits or sampled rows' weights stay on the device. */
  private readonly copies: DeviceCacheCopies;
  private readonly copyFeeds: Record<string, Tensor> = {};
  /** The outputs a call may leave on the device that the cache does not hold: released after it. */
  private readonly released: readonly string[];
  /** The last call's new-entry outputs, until a commit keeps some of them (else `empty`). */
  private readonly newKeys: Tensor[];
  private readonly newValues: Tensor[];
  /** The last call's cache outputs where the model has them, until a commit (else `empty`). */
  private readonly joinedKeys: Tensor[];
  private readonly joinedValues: Tensor[];
  /** Rows of the last call, whose outputs are held. */
  private heldRows = 0;
  /** The greedy and drawn tokens of the last call, unpacked from `names.rowOutputs`. */
  private readonly greedyTokens: Int32Array;
  private readonly drawnTokens: Int32Array;

  /**
   * @param session the compaction session of `compactionModel(layers, kvHeads, headDim, dtype)`,
   *   on the provider of the model whose cache this is.
   * @param names the model's cache inputs and outputs, one per layer.
   * @param maxRows most new rows of one call.
   * @param copies the copy sessions on the model's provider that bring outputs it left on the
   *   device to the host: needed for the calls that read them.
   */
  constructor(
    session: InferenceSession,
    names: CacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    maxRows: number,
    copies: DeviceCacheCopies = {},
  ) {
    super(session, names.pastKeys.length, kvHeads, headDim, capacity, dtype, maxRows);
    this.names = names;
    this.greedyOutputs = names.greedy !== undefined;
    this.sampledOutputs = names.greedy !== undefined && names.sampler !== undefined;
    this.copies = copies;
    const { sampler } = names;
    this.released = [
      names.logits,
      ...(sampler?.weights && sampler.mass ? [sampler.weights, sampler.mass] : []),
      ...(names.unread ?? []),
      ...packedRowOutputs(names),
    ];
    this.greedyTokens = new Int32Array(maxRows);
    this.drawnTokens = new Int32Array(maxRows);
    this.newKeys = new Array<Tensor>(this.layers).fill(this.compaction.empty);
    this.newValues = new Array<Tensor>(this.layers).fill(this.compaction.empty);
    this.joinedKeys = new Array<Tensor>(this.layers).fill(this.compaction.empty);
    this.joinedValues = new Array<Tensor>(this.layers).fill(this.compaction.empty);
  }

  /** The cached rows, fed as tensors of exactly that many. */
  get pastRows(): number {
    return this.length;
  }

  /** Rows the cache's tensors hold: a commit's outputs are exactly the rows kept so far. */
  get allocatedRows(): number {
    return this.keys[0]!.dims[1]!;
  }

  /**
   * Runs the call after the running commit is done, with the cache's tensors as the past, and
   * holds its new-entry outputs. Every output is fetched: with outputs preferred on the device,
   * onnxruntime-node 1.30 failed a verification after prefills that had left the logits out
   * ("Tensor size mismatch"). Features, greedy tokens and drawn tokens come to the host; logits left on the
   * device come to the host only when `rowOutputs` is `logits`, sampled rows' weights only when it
   * is `weights`, and outputs left on the device are released either way.
   * @throws ContractError when the model left the logits or weights the call reads on the device
   *   and the cache has no session to copy them.
   */
  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    rowOutputs: RowOutputs,
    _features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    await this.feedPast(inputs, names);
    const out = await session.run(inputs, session.outputNames);
    this.hold(out, rows);
    try {
      const read = names.rowOutputs
        ? { ...out, ...this.unpackRows(out[names.rowOutputs]!, inputs, rows) }
        : out;
      if (rowOutputs === 'logits' && out[names.logits]!.location === 'gpu-buffer')
        return { ...read, [names.logits]: await this.logitsToHost(out[names.logits]!) };
      const { sampler } = names;
      if (rowOutputs === 'weights' && sampler?.weights && sampler.mass) {
        const weights = out[sampler.weights]!;
        if (weights.location === 'gpu-buffer')
          return {
            ...read,
            ...(await this.weightsToHost(weights, out[sampler.mass]!, sampler.weights, sampler.mass)),
          };
      }
      return read;
    } finally {
      for (const name of this.released) {
        const tensor = out[name];
        if (tensor?.location === 'gpu-buffer') tensor.dispose();
      }
    }
  }

  /**
   * The outputs `names.rowOutputs` packs, as host tensors over its data: `rows` feature rows, then
   * the greedy tokens and logit sums of the rows the call scored (`score_rows`, else every row), then
   * the tokens drawn for the rows it was fed uniforms for.
   */
  private unpackRows(
    packed: Tensor,
    inputs: Readonly<Record<string, Tensor>>,
    rows: number,
  ): Record<string, Tensor> {
    const { feature, greedy, sampler, scoreRows } = this.names;
    const data = packed.data as Float32Array;
    const scoreFeed = scoreRows ? inputs[scoreRows] : undefined;
    const scored = scoreFeed ? Number((scoreFeed.data as BigInt64Array)[0]) : rows;
    const drawn = sampler ? inputs[sampler.uniforms]!.dims[0]! : 0;
    const width = (data.length - 2 * scored - drawn) / rows;
    if (!(Number.isInteger(width) && width > 0))
      throw new ContractError(
        `expected ${this.names.rowOutputs} to hold ${rows} feature rows, ${scored} greedy tokens and logit sums and ${drawn} drawn tokens; found ${data.length} values`,
      );
    let at = rows * width;
    const unpacked: Record<string, Tensor> = {
      [feature]: new Tensor('float32', data.subarray(0, at), [1, rows, width]),
    };
    if (!greedy) return unpacked;
    for (let r = 0; r < scored; r++) this.greedyTokens[r] = data[at + r]!;
    unpacked[greedy.token] = new Tensor('int32', this.greedyTokens.subarray(0, scored), [1, scored]);
    at += scored;
    unpacked[greedy.logitSum] = new Tensor('float32', data.subarray(at, at + scored), [1, scored]);
    at += scored;
    if (!sampler) return unpacked;
    for (let r = 0; r < drawn; r++) this.drawnTokens[r] = data[at + r]!;
    unpacked[sampler.token] = new Tensor('int32', this.drawnTokens.subarray(0, drawn), [1, drawn]);
    return unpacked;
  }

  /** Copies logits the model left on the device to the host. */
  private async logitsToHost(logits: Tensor): Promise<Tensor> {
    if (!this.copies.logits)
      throw new ContractError(
        'expected a logits copy session (logitsCopyModel) beside a target whose logits stay on the device; found none, and this call reads its logits',
      );
    this.copyFeeds[LOGITS_COPY_NAMES.deviceLogits] = logits;
    const copied = await this.copies.logits.run(this.copyFeeds);
    return copied[LOGITS_COPY_NAMES.logits]!;
  }

  /** Copies sampled rows' weights and their sums the model left on the device to the host, in one run. */
  private async weightsToHost(
    weights: Tensor,
    mass: Tensor,
    weightsName: string,
    massName: string,
  ): Promise<Record<string, Tensor>> {
    if (!this.copies.weights)
      throw new ContractError(
        'expected a weights copy session (weightsCopyModel) beside a target whose sampled rows’ weights stay on the device; found none, and this call reads them',
      );
    const { deviceWeights, deviceMass } = WEIGHTS_COPY_NAMES;
    const feeds = { [deviceWeights]: weights, [deviceMass]: mass };
    const copied = await this.copies.weights.run(feeds);
    return {
      [weightsName]: copied[WEIGHTS_COPY_NAMES.weights]!,
      [massName]: copied[WEIGHTS_COPY_NAMES.mass]!,
    };
  }

  /** Releases every tensor, the compaction session and the copy sessions. */
  override async dispose(): Promise<void> {
    await super.dispose();
    await this.copies.logits?.release();
    await this.copies.weights?.release();
  }

  /**
   * Holds one call's outputs for the next commit, releasing those of the call before: its `rows`
   * new entries (`present_*`, `[1, rows, kvHeads, headDim]` per layer) and, where the model outputs
   * them, the cache after the call (`cache_*`, `[1, length + rows, kvHeads, headDim]`).
   */
  hold(out: Readonly<Record<string, Tensor>>, rows: number): void {
    const { names } = this;
    this.dropNew();
    this.heldRows = rows;
    for (let l = 0; l < this.layers; l++) {
      this.newKeys[l] = out[names.presentKeys[l]!]!;
      this.newValues[l] = out[names.presentValues[l]!]!;
      if (names.cache) {
        this.joinedKeys[l] = out[names.cache.keys[l]!]!;
        this.joinedValues[l] = out[names.cache.values[l]!]!;
      }
    }
  }

  /**
   * Appends held rows `slots[0..count)` (every row in order when `slots` is null) to the cache and
   * starts the compaction that does it.
   * @throws ContextOverflowError when the cache would exceed its capacity.
   */
  commit(slots: Int32Array | null, count: number): void {
    if (this.length + count > this.capacity)
      throw new ContextOverflowError(this.length + count, this.capacity, 'the KV cache');
    this.length += count;
    // The call's cache outputs hold every row it added: they serve a commit that keeps them all in order.
    if (slots === null && count === this.heldRows && this.joinedKeys[0] !== this.compaction.empty) {
      this.pending = this.pending.then(() => this.takeJoined());
      return;
    }
    this.compaction.keepRows(slots, count);
    this.pending = this.pending.then(() => this.compact(count));
  }

  reset(): void {
    this.length = 0;
    this.pending = this.pending
      .catch(() => undefined)
      .then(() => {
        this.dropNew();
        const { compaction } = this;
        for (let l = 0; l < this.layers; l++) {
          compaction.release(this.keys[l]!);
          compaction.release(this.values[l]!);
          this.keys[l] = compaction.empty;
          this.values[l] = compaction.empty;
        }
      });
  }

  /** Makes the held call's cache outputs the cache's tensors. */
  private takeJoined(): void {
    const { compaction } = this;
    for (let l = 0; l < this.layers; l++) {
      compaction.release(this.keys[l]!);
      compaction.release(this.values[l]!);
      this.keys[l] = this.joinedKeys[l]!;
      this.values[l] = this.joinedValues[l]!;
      this.joinedKeys[l] = compaction.empty;
      this.joinedValues[l] = compaction.empty;
    }
    this.dropNew();
  }

  private async compact(count: number): Promise<void> {
    const { compaction } = this;
    await compaction.append(this.keys, this.values, this.newKeys, this.newValues, count);
    for (let l = 0; l < this.layers; l++) {
      compaction.release(this.keys[l]!);
      compaction.release(this.values[l]!);
      this.keys[l] = compaction.keptKeys[l]!;
      this.values[l] = compaction.keptValues[l]!;
    }
    this.dropNew();
  }

  private dropNew(): void {
    const { compaction } = this;
    for (let l = 0; l < this.layers; l++) {
      compaction.release(this.newKeys[l]!);
      compaction.release(this.newValues[l]!);
      compaction.release(this.joinedKeys[l]!);
      compaction.release(this.joinedValues[l]!);
      this.newKeys[l] = compaction.empty;
      this.newValues[l] = compaction.empty;
      this.joinedKeys[l] = compaction.empty;
      this.joinedValues[l] = compaction.empty;
    }
  }
}
