export {
  type BlockQuantization,
  dequantizeRows,
  type QuantizedBits,
  type QuantizedRows,
  quantizeRows,
} from './block-quantization.js';
export { Checkpoint, SHARD_INDEX_FILE } from './checkpoint.js';
export {
  type DecoderConfig,
  type EagleHeadConfig,
  type LayerFeatures,
  type ModelFamily,
  parseDecoderConfig,
  parseEagleHeadConfig,
  SUPPORTED_ARCHITECTURES,
} from './config.js';
export { type ConvertCausalLMOptions, type ConvertResult, convertCausalLM } from './convert-causal-lm.js';
export { type ConvertEagleHeadOptions, convertEagleHead } from './convert-eagle-head.js';
export {
  type CommonConvertOptions,
  PRODUCED_WEIGHT_FORMATS,
  type ProducedWeightFormat,
  weightFormatNamed,
} from './convert-options.js';
export { type AttentionKind, DEFAULT_GRAPH_OPTIONS, type GraphOptions } from './decoder-graph.js';
export { CheckpointError, type CheckpointProblem } from './errors.js';
export {
  decodeFloats,
  type FloatDtype,
  floatsToHalfBits,
  floatToBfloat16Bits,
  floatToHalfBits,
  halfToFloat,
} from './float-conversion.js';
export type { Matrix } from './matrix.js';
export { OPSET } from './model-file.js';
export {
  BlockQuantizedWeights,
  Int4Weights,
  Int8Weights,
  type QuantizedWeightOptions,
} from './quantized-weights.js';
export {
  parseRope,
  type RopeConfig,
  ropeAttentionFactor,
  ropeInverseFrequencies,
  ropeTables,
} from './rope.js';
export { SafetensorsFile, type TensorEntry } from './safetensors.js';
export { type SafetensorsTensor, writeSafetensors } from './safetensors-writer.js';
export { TOKENIZER_FILES } from './tokenizer-files.js';
export { Fp16Weights, Fp32Weights, type LinearOp, type WeightFormat } from './weight-format.js';
