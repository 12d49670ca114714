export {
  type BlockQuantization,
  dequantizeRows,
  type QuantizedBits,
  type QuantizedRows,
  quantizeRows,
} from './block-quantization.js';
export { Checkpoint, SHARD_INDEX_FILE } from './checkpoint.js';
export { recordChecksums, sha256OfFile } from './checksums-file.js';
export {
  capturedLayersFor,
  type DecoderConfig,
  defaultCapturedLayers,
  EAGLE3_ARCHITECTURE,
  type Eagle3HeadConfig,
  type EagleHeadConfig,
  type HeadLayout,
  type LayerFeatures,
  type ModelFamily,
  parseDecoderConfig,
  parseEagle3HeadConfig,
  parseEagleHeadConfig,
  recognizeHeadLayout,
  SUPPORTED_ARCHITECTURES,
} from './config.js';
export { defaultPositions, MAX_DEFAULT_POSITIONS } from './config-caps.js';
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
export {
  type FrequencyVocabulary,
  type FrequencyVocabularyOptions,
  frequencyVocabulary,
  TOKEN_FREQUENCIES_FORMAT,
  type TokenFrequencies,
  writeTokenFrequencies,
} from './frequency-vocabulary.js';
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
export { SafetensorsFile } from './safetensors.js';
export { type SafetensorsTensor, writeSafetensors } from './safetensors-writer.js';
export { TOKENIZER_FILES } from './tokenizer-files.js';
export { TorchArchiveFile } from './torch-archive.js';
export { type ChannelQuantized, quantizeChannels, W8A8Weights } from './w8a8-weights.js';
export { Fp16Weights, Fp32Weights, type LinearOp, type WeightFormat } from './weight-format.js';
export { type TensorEntry, WeightsFile } from './weights-file.js';
