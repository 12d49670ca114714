import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { CacheNames } from './causal-lm-cache.js';
import { KV_CHUNK_ROWS, type KvArray, KvCache, type KvDtype, readNewEntries } from './kv-cache.js';

/** The names of a draft model's cache inputs and outputs, one per layer (an EAGLE head has one). */
export type DraftCacheNames = Pick<
  CacheNames,
  'pastKeys' | 'pastValues' | 'presentKeys' | 'presentValues' | 'presentRows' | 'cache'
>;

/**
 * What a draft model's runner (`DraftModelRunner`) needs of its KV cache, whatever keeps it: a
 * host cache written row by row ({@link HostDraftKvCache}), or the model's own output tensors
 * appended on the device by a compaction graph (`DeviceDraftKvCache`). The cache holds the
 * committed rows, then the draft rows of the round being drafted; every call's new rows are
 * appended whole, and {@link dropDrafts} returns to the committed rows before the next commit.
 */
export interface DraftKvCache {
  /** Rows the next call attends to: the committed rows and the draft rows appended since. */
  readonly length: number;
  /** Most rows the cache may hold. */
  readonly capacity: number;
  /**
   * Where the cached rows are now, read from the cache's own storage: `cpu`, or `gpu-buffer` for
   * a device cache on a GPU provider.
   */
  readonly location: Tensor.DataLocation;
  /**
   * Runs `session` on `feeds` (a call's inputs for `rows` new rows, without the past, which the
   * cache adds) and appends the call's `rows` new entries: to the committed rows when
   * `committed` (only right after {@link dropDrafts} or {@link reset}), else as draft rows. The
   * outputs hold at least `fetches`, the names the caller reads (on the host).
   */
  run(
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    fetches: readonly string[],
    rows: number,
    committed: boolean,
  ): Promise<InferenceSession.ReturnType>;
  /** Drops the draft rows, keeping the committed ones. */
  dropDrafts(): void;
  /** Empties the cache. */
  reset(): void;
  /** Releases what the cache holds beyond plain memory (device tensors, a session). */
  dispose(): Promise<void>;
}

/**
 * A draft model's KV cache in host memory: a {@link KvCache} fed to each call as zero-copy views
 * of its first `length` rows, into which each call's new-entry outputs (`names.presentRows` where
 * the model packs them) are copied row by row. Its storage grows with the rows in use (doubling,
 * in chunks of {@link KV_CHUNK_ROWS}).
 */
export class HostDraftKvCache extends KvCache implements DraftKvCache {
  readonly location = 'cpu' as const;
  private readonly names: DraftCacheNames;
  private committedRows = 0;
  private readonly newKeys: KvArray[];
  private readonly newValues: KvArray[];

  constructor(
    names: DraftCacheNames,
    kvHeads: number,
    headDim: number,
    capacity: number,
    dtype: KvDtype,
    chunk: number = KV_CHUNK_ROWS,
  ) {
    super(names.pastKeys.length, kvHeads, headDim, capacity, dtype, chunk);
    this.names = names;
    this.newKeys = new Array<KvArray>(this.layers);
    this.newValues = new Array<KvArray>(this.layers);
  }

  async run(
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    fetches: readonly string[],
    rows: number,
    committed: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    const past = this.length;
    for (let l = 0; l < this.layers; l++) {
      feeds[names.pastKeys[l]!] = this.keyTensor(l, past);
      feeds[names.pastValues[l]!] = this.valueTensor(l, past);
    }
    const out = await session.run(feeds, fetches);
    const { newKeys, newValues } = this;
    readNewEntries(out, names, newKeys, newValues);
    for (let l = 0; l < this.layers; l++) this.writeRows(l, newKeys[l]!, newValues[l]!, null, rows, past);
    this.length = past + rows;
    if (committed) this.committedRows = this.length;
    return out;
  }

  dropDrafts(): void {
    this.length = this.committedRows;
  }

  reset(): void {
    this.length = 0;
    this.committedRows = 0;
  }

  async dispose(): Promise<void> {}
}
