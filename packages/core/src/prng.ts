import { requireInteger } from './validate.js';

/** The largest seed of a sampling stream: seeds are 32-bit, in [0, MAX_SEED]. */
export const MAX_SEED = 0xffffffff;

/**
 * xoshiro128** (Blackman & Vigna, 2018): a 128-bit-state generator with 32-bit output, period
 * 2^128 − 1, that passes BigCrush, written with 32-bit integer operations only so it gives the
 * same stream in every JavaScript engine, in Node and in browsers. The state is seeded from a
 * 32-bit seed by a SplitMix32-style generator (golden-ratio increment, murmur3 finaliser), so nearby seeds give unrelated streams.
 */
export class Xoshiro128 {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** A generator with the given raw 128-bit state (not all zero); for checking against reference outputs. */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const rng = new Xoshiro128(0);
    rng.s0 = s0 | 0;
    rng.s1 = s1 | 0;
    rng.s2 = s2 | 0;
    rng.s3 = s3 | 0;
    return rng;
  }

  /** Restarts the stream from `seed` (an integer in [0, 2^32)). */
  seed(seed: number): void {
    requireInteger('seed', seed, 0, MAX_SEED);
    const x = seed >>> 0;
    this.s0 = fmix32((x + GOLDEN) >>> 0);
    this.s1 = fmix32((x + 2 * GOLDEN) >>> 0);
    this.s2 = fmix32((x + 3 * GOLDEN) >>> 0);
    this.s3 = fmix32((x + 4 * GOLDEN) >>> 0);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /**
   * Restarts the stream from the pair (`seed`, `stream`), e.g. a generation's seed and a token
   * position: the same pair always gives the same stream, different streams of one seed are
   * unrelated. Allocation-free, for per-token use.
   */
  seedStream(seed: number, stream: number): void {
    this.seed(fmix32((seed ^ fmix32((stream + GOLDEN) >>> 0)) >>> 0));
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** A uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

/** The golden-ratio increment of SplitMix32. */
const GOLDEN = 0x9e3779b9;

/** murmur3's 32-bit finaliser: a bijective mix of a 32-bit unsigned integer. */
function fmix32(value: number): number {
  let z = value;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
