import { basename, resolve } from 'node:path';
import { OptionError, requireInteger } from '@treespec/core';
import type {
  KvCacheInfo,
  ManifestModel,
  ModelDims,
  ModelSource,
  RopeInfo,
  WeightFormatName,
} from '@treespec/onnx';
import type { DecoderConfig } from './config.js';
import { defaultPositions } from './config-caps.js';
import { type AttentionKind, DEFAULT_GRAPH_OPTIONS, type GraphOptions } from './decoder-graph.js';
import { Int4Weights, Int8Weights } from './quantized-weights.js';
import { ropeParameters } from './rope.js';
import { W8A8Weights } from './w8a8-weights.js';
import { Fp16Weights, Fp32Weights, type WeightFormat } from './weight-format.js';

/** Options every conversion takes. */
export interface CommonConvertOptions {
  /** Output directory; created if needed. Models converted into one directory share its manifest and tokenizer. */
  readonly out: string;
  /** Manifest id of the model, also the base name of its files. */
  readonly id?: string;
  /** Positions the RoPE tables cover (default: the config's max_position_embeddings). */
  readonly maxContext?: number;
  /**
   * Weight storage of the linear layers: `fp32` (default, `Gemm`), `fp16` (half storage, float32
   * arithmetic), `int8` or `int4`
   * (block-quantized, MatMulNBits, block size 32, symmetric), `w8a8` (int8 weights per channel
   * times int8 activations per row, MatMulInteger), or a configured {@link WeightFormat}
   * such as `new Int8Weights({ blockSize: 64 })`.
   */
  readonly weightFormat?: WeightFormat | ProducedWeightFormat;
  /** Graph-shape choices (default {@link DEFAULT_GRAPH_OPTIONS}). */
  readonly graph?: Partial<GraphOptions>;
  /**
   * Stops the conversion at its next tensor with core's `AbortError`, leaving the folder as
   * a failure does (a new one removed, an existing bundle as it was).
   */
  readonly signal?: AbortSignal;
}

/** The weight formats the converter produces. */
export type ProducedWeightFormat = WeightFormatName;

/** Names accepted by {@link weightFormatNamed}. */
export const PRODUCED_WEIGHT_FORMATS: readonly ProducedWeightFormat[] = [
  'fp32',
  'fp16',
  'int8',
  'int4',
  'w8a8',
];

/**
 * The default {@link WeightFormat} of a name: `fp32` → `Gemm`; `fp16` → half storage, `Gemm` in
 * float32; `int8`/`int4` → MatMulNBits, block 32, symmetric, accuracy level 4; `w8a8` → int8
 * weights per channel times int8 activations per row (`MatMulInteger`).
 */
export function weightFormatNamed(name: string): WeightFormat {
  if (name === 'fp32') return new Fp32Weights();
  if (name === 'fp16') return new Fp16Weights();
  if (name === 'int8') return new Int8Weights();
  if (name === 'int4') return new Int4Weights();
  if (name === 'w8a8') return new W8A8Weights();
  throw new OptionError('weightFormat', name, `one of ${PRODUCED_WEIGHT_FORMATS.join(', ')}`);
}

/** Resolved common options. */
export interface ResolvedOptions {
  readonly id: string;
  readonly maxContext: number;
  readonly format: WeightFormat;
  readonly graph: GraphOptions;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Checks and fills in {@link CommonConvertOptions}. */
export function resolveOptions(
  options: CommonConvertOptions,
  defaultId: string,
  positions: Pick<DecoderConfig, 'maxPositions' | 'maxPositionsField'>,
): ResolvedOptions {
  const { maxPositions, maxPositionsField } = positions;
  const id = options.id ?? defaultId;
  if (!ID_PATTERN.test(id))
    throw new OptionError('id', id, 'a file-name-safe id (letters, digits, ".", "_", "-")');
  const maxContext =
    options.maxContext === undefined
      ? defaultPositions(maxPositions)
      : requireInteger(
          'maxContext',
          options.maxContext,
          1,
          maxPositions,
          maxPositionsField === 'sliding_window'
            ? "the config's sliding_window, which bounds the positions attention reaches"
            : "the config's max_position_embeddings",
        );
  return {
    id,
    maxContext,
    format:
      typeof options.weightFormat === 'string' || options.weightFormat === undefined
        ? weightFormatNamed(options.weightFormat ?? 'fp32')
        : options.weightFormat,
    graph: { ...DEFAULT_GRAPH_OPTIONS, ...options.graph },
  };
}

/**
 * A head's options with the positions its RoPE tables cover settled. A head drafts at its
 * target's positions: its own `max_position_embeddings` is the window it was trained on (EAGLE's
 * reference computes RoPE at any position), so the target config's positions bound it, and by
 * default it covers those of its target already in the bundle (`base`; else the target config's).
 * A head bounded by its own config would cap, or refuse, the context its target loads with.
 */
export function withHeadContext<T extends CommonConvertOptions>(
  options: T,
  base: ManifestModel | undefined,
  targetPositions: number,
): T {
  if (options.maxContext !== undefined || base === undefined) return options;
  return { ...options, maxContext: Math.min(base.dims.maxContext, targetPositions) };
}

/** Manifest dimensions of a decoder. */
export function manifestDims(config: DecoderConfig, maxContext: number): ModelDims {
  const { vocab, hidden, layers, heads, kvHeads, headDim, intermediate } = config;
  return { vocab, hidden, layers, heads, kvHeads, headDim, intermediate, maxContext };
}

/**
 * Manifest KV-cache description: bsnh new-only entries for plain attention, bnsh new-only entries
 * for in-place, a shared bnsh buffer for fused.
 */
export function manifestKvCache(config: DecoderConfig, attention: AttentionKind = 'plain'): KvCacheInfo {
  const fused = attention === 'fused';
  return {
    layout: attention === 'plain' ? 'bsnh' : 'bnsh',
    layers: config.layers,
    kvHeads: config.kvHeads,
    headDim: config.headDim,
    dtype: 'float32',
    keysRotated: true,
    present: fused ? 'shared' : 'new-only',
  };
}

/** Manifest source of a converted model: its architecture, model type and checkpoint folder's name. */
export function manifestSource(config: DecoderConfig, checkpoint: string): ModelSource {
  return {
    architecture: config.architecture,
    modelType: config.modelType,
    checkpoint: basename(resolve(checkpoint)),
  };
}

/** Manifest RoPE description. */
export function manifestRope(config: DecoderConfig): RopeInfo {
  const parameters = ropeParameters(config.rope);
  return {
    type: config.rope.type,
    theta: config.rope.theta,
    ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
  };
}

/**
 * Checks that each of `paths` (a conversion's folders, by option name) is a non-empty string,
 * before anything is read.
 * @throws OptionError naming the first that is not.
 */
export function requireFolders(paths: Readonly<Record<string, unknown>>): void {
  for (const [option, value] of Object.entries(paths)) {
    if (typeof value !== 'string' || value === '') throw new OptionError(option, value, 'a folder path');
  }
}
