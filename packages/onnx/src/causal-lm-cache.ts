import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { type KvArray, newEntryOutputs, readNewEntries } from './kv-cache.js';
import type { CausalLmLayout } from './model-layout.js';

/** The names of a causal LM's values that its KV cache feeds, binds or reads. */
export type CacheNames = Pick<
  CausalLmLayout['names'],
  | 'pastKeys'
  | 'pastValues'
  | 'presentKeys'
  | 'presentValues'
  | 'presentRows'
  | 'cache'
  | 'unread'
  | 'logits'
  | 'feature'
  | 'greedy'
  | 'sampler'
  | 'scoreRows'
  | 'rowOutputs'
>;

/**
 * What a call reads of each new row besides the cache: nothing (a prefill), its logits, its
 * greedy token and logit sum (`CausalLmLayout.names.greedy`) in place of the logits, the token
 * the model drew for it (`CausalLmLayout.names.sampler`) and its logit sum, or those and the
 * row's softmax weights and their sum (`sampler.weights`, `sampler.mass`).
 */
export type RowOutputs = 'none' | 'logits' | 'greedy' | 'sampled' | 'weights';

/**
 * What `OnnxCausalLm` needs of its KV cache, whatever keeps it: a host cache fed as views
 * and committed by copying rows (`HostKvCache`), a head-major host cache fed whole and committed
 * by copying rows (`HeadMajorKvCache`), a fused model's cache shared in place
 * (`SharedKvCache`), or the model's own output tensors committed by a compaction graph on
 * the device (`DeviceKvCache`). Each runs the model's calls with itself as the past, holds a
 * call's new entries, and keeps the accepted ones on commit.
 */
export interface CausalLmCache {
  /** Rows in use (a device cache counts a commit still running). */
  readonly length: number;
  /**
   * Rows of `past_*` a call is fed, which the attention bias's cached columns cover: `length`, or
   * more for a cache fed whole (`HeadMajorKvCache`), whose columns past `length` the caller masks.
   */
  readonly pastRows: number;
  /** Rows its storage holds now; it grows with the rows in use up to its capacity. */
  readonly allocatedRows: number;
  /**
   * Where the cached rows are now, read from the cache's own tensors: `cpu`, or `gpu-buffer` for a
   * device cache on a GPU provider.
   */
  readonly location: Tensor.DataLocation;
  /** Whether {@link run} can fetch `greedy` row outputs (the model has them and this cache reads them). */
  readonly greedyOutputs: boolean;
  /** Whether {@link run} can fetch `sampled` row outputs (the model draws tokens and this cache reads them). */
  readonly sampledOutputs: boolean;
  /**
   * Runs `session` on `inputs` (the call's input ids, position ids and bias for `rows` new rows
   * after the cached ones) with the cache as its past, and holds the call's new entries for the
   * next {@link commit}. The outputs hold what `rowOutputs` names (some caches fetch more), and
   * the features when `features`. The cache adds its past tensors to `inputs`.
   */
  run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType>;
  /**
   * Keeps rows `slots[0..count)` of the last call's new entries after the cached rows (the first
   * `count` rows of the call in order when `slots` is null, which the runner passes whenever no kept
   * row moves).
   */
  commit(slots: Int32Array | null, count: number): void;
  /** Empties the cache. */
  reset(): void;
  /** Releases what the cache holds beyond plain memory (device tensors, a session). */
  dispose(): Promise<void>;
}

/**
 * The new KV entries of a model whose `present_*` outputs hold a call's new rows (plain and
 * in-place attention): what each kind of call fetches beside them, and the last call's entries per
 * layer, host arrays kept until a commit copies the accepted rows into the cache. Where the model
 * packs them into one output (`names.presentRows`), a call fetches that alone and each layer's
 * entries are views of it.
 */
export class NewEntries {
  /** Whether the model has greedy row outputs ({@link CausalLmCache.greedyOutputs}). */
  readonly greedyOutputs: boolean;
  /** Whether the model draws sampled tokens ({@link CausalLmCache.sampledOutputs}). */
  readonly sampledOutputs: boolean;
  /** The last call's new keys per layer, as the model returned them. */
  readonly keys: KvArray[];
  /** The last call's new values per layer. */
  readonly values: KvArray[];
  /** Rows of the last call. */
  rows = 0;
  private readonly names: CacheNames;
  /** Fetches by what a call wants: [row outputs][features (0 or 1)]. */
  private readonly fetches: Readonly<Record<RowOutputs, readonly (readonly string[])[]>>;

  constructor(names: CacheNames) {
    this.names = names;
    const layers = names.pastKeys.length;
    this.keys = new Array<KvArray>(layers);
    this.values = new Array<KvArray>(layers);
    const cache = newEntryOutputs(names);
    const withFeature = (fetch: string[]) => [fetch, [...fetch, names.feature]];
    const logits = withFeature([names.logits, ...cache]);
    this.greedyOutputs = names.greedy !== undefined;
    this.sampledOutputs = names.greedy !== undefined && names.sampler !== undefined;
    this.fetches = {
      none: withFeature(cache),
      logits,
      // Never asked for without the outputs (greedyOutputs, sampledOutputs are false then); the
      // logits stand in.
      greedy: names.greedy ? withFeature([names.greedy.token, names.greedy.logitSum, ...cache]) : logits,
      sampled:
        names.greedy && names.sampler
          ? withFeature([names.sampler.token, names.greedy.logitSum, ...cache])
          : logits,
      weights:
        names.greedy && names.sampler?.weights && names.sampler.mass
          ? withFeature([
              names.sampler.token,
              names.sampler.weights,
              names.sampler.mass,
              names.greedy.logitSum,
              ...cache,
            ])
          : logits,
    };
  }

  /**
   * Runs `session` on `inputs` (the past already fed), fetching what `rowOutputs` and `features`
   * ask beside the new entries, and keeps the call's `rows` new entries.
   */
  async run(
    session: InferenceSession,
    inputs: Record<string, Tensor>,
    rows: number,
    rowOutputs: RowOutputs,
    features: boolean,
  ): Promise<InferenceSession.ReturnType> {
    const { names } = this;
    const out = await session.run(inputs, this.fetches[rowOutputs][features ? 1 : 0]!);
    readNewEntries(out, names, this.keys, this.values);
    this.rows = rows;
    return out;
  }
}
