import { Tensor } from 'onnxruntime-common';
import { Int64Buffer } from './int64.js';

/** What a target id is to a {@link ContextTokenFeed}: not seen, a draft token, or listed. */
const UNSEEN = 0;
const DRAFT_TOKEN = 1;
const LISTED = 2;

/**
 * The tokens of a generation's context (prompt and output) that an EAGLE head scores beside its
 * reduced draft vocabulary, fed to the graph as `context_ids` (int64 [C]): each target id outside
 * the draft vocabulary once, up to `capacity` ids; once full, a new token takes the place of the one
 * listed longest ago (which is listed again when it comes back), so a long generation keeps its
 * recent tokens. Preallocated; noting a token costs a table lookup.
 */
export class ContextTokenFeed {
  private readonly ids: Int64Buffer;
  private readonly listedIds: Int32Array;
  private readonly kind: Uint8Array;
  private count = 0;
  /** Once full, the slot of the token listed longest ago. */
  private oldest = 0;
  private readonly draftTokenIds: Int32Array;
  /** {@link ContextTokenFeed.columns} as last built; null once the listed ids changed. */
  private columnIds: Int32Array | null = null;

  constructor(
    readonly capacity: number,
    vocabSize: number,
    draftTokenIds: Int32Array,
  ) {
    this.ids = new Int64Buffer(capacity);
    this.listedIds = new Int32Array(capacity);
    this.kind = new Uint8Array(vocabSize);
    this.draftTokenIds = draftTokenIds;
    for (const id of draftTokenIds) this.kind[id] = DRAFT_TOKEN;
  }

  /**
   * The target id of each column the head scores: its draft tokens, then the listed ids in the
   * order they are fed. The same array until the listed ids change, a new one after (built then,
   * once, for the next call).
   */
  columns(): Int32Array {
    if (this.columnIds === null) {
      const draft = this.draftTokenIds.length;
      this.columnIds = new Int32Array(draft + this.count);
      this.columnIds.set(this.draftTokenIds);
      this.columnIds.set(this.listedIds.subarray(0, this.count), draft);
    }
    return this.columnIds;
  }

  /** Ids listed so far. */
  get size(): number {
    return this.count;
  }

  /** Lists the tokens of `tokens[from .. to)` not listed yet and outside the draft vocabulary. */
  note(tokens: Int32Array, from: number, to: number): void {
    const { kind } = this;
    for (let i = from; i < to; i++) {
      const id = tokens[i]!;
      if (id < 0 || id >= kind.length || kind[id] !== UNSEEN) continue;
      let slot = this.count;
      if (slot < this.capacity) this.count++;
      else {
        slot = this.oldest;
        this.oldest = (slot + 1) % this.capacity;
        kind[this.listedIds[slot]!] = UNSEEN;
      }
      kind[id] = LISTED;
      this.listedIds[slot] = id;
      this.ids.set(slot, id);
      this.columnIds = null;
    }
  }

  /** Forgets every listed id (a new generation). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.kind[this.listedIds[i]!] = UNSEEN;
    this.count = 0;
    this.oldest = 0;
    this.columnIds = null;
  }

  /** The listed ids as the graph's `name` input. */
  feed(feeds: Record<string, Tensor>, name: string): void {
    feeds[name] = new Tensor('int64', this.ids.values.subarray(0, this.count), [this.count]);
  }
}
