import { OptionError, requireOneOf } from '@treespec/core';
import {
  CAPTURED_FEATURE_OUTPUT,
  CAPTURED_ROW_OUTPUTS,
  DRAFT_LM_IO,
  type ManifestModel,
  TARGET_IO,
} from '@treespec/onnx';
import { checkTargetFitsBundle, checkVocabularyFitsBundle } from './bundle-fit.js';
import { addToBundle } from './bundle-model.js';
import {
  buildCausalLMGraph,
  withCacheOutputs,
  withDraftSummary,
  withPresentRows,
} from './causal-lm-graph.js';
import { Checkpoint } from './checkpoint.js';
import { capturedLayersFor, parseDecoderConfig } from './config.js';
import {
  type CommonConvertOptions,
  manifestKvCache,
  manifestRope,
  manifestSource,
  requireFolders,
  resolveOptions,
} from './convert-options.js';
import type { AttentionKind, GraphOptions } from './decoder-graph.js';
import { CheckpointError } from './errors.js';
import { type FrequencyVocabularyOptions, frequencyVocabulary } from './frequency-vocabulary.js';
import { readManifest } from './manifest-file.js';
import { intoOutputDirectory } from './output-directory.js';
import { readConfigJson } from './read-config.js';
import { checkChatTemplate, stageTokenizerFiles } from './tokenizer-files.js';

/** Options of {@link convertCausalLM}. */
export interface ConvertCausalLMOptions extends CommonConvertOptions {
  /** Hugging Face checkpoint directory: config.json, safetensors (single or sharded), tokenizer files. */
  readonly checkpoint: string;
  /** `target` (default) or `draft` (an independent small draft LM). */
  readonly role?: 'target' | 'draft';
  /**
   * Targets for an EAGLE-3 head: also output the inputs of these decoder layers after the feature
   * (`captured_feature`), or of EAGLE's reference layers (2, L // 2, L − 3) with `reference`.
   */
  readonly eagle3Layers?: readonly number[] | 'reference';
  /**
   * Draft LMs, FR-Spec: multiply only the lm_head rows of the K most frequent target tokens of a
   * corpus (the logits still cover the vocabulary; the other tokens can never be drafted).
   */
  readonly draftVocab?: FrequencyVocabularyOptions;
  /**
   * Attention of the graph: `plain` (MatMul/Softmax over the cache concatenated with the new rows,
   * runs everywhere), `in-place` (the same ops reading a head-major cache where it lies, faster for
   * long contexts of real-size models on the CPU; sums in float32; targets only) or `fused` (ONNX
   * Runtime's GroupQueryAttention over a cache buffer shared in place; targets only). Default
   * `plain`. See {@link AttentionKind}.
   */
  readonly attention?: AttentionKind;
  /**
   * Targets: a Jinja chat template for a model whose tokenizer has none (a base model), written
   * into the bundle as chat_template.jinja so that chat prompts (`generate(messages)`, the
   * server's /v1/chat/completions) work without one given at load time.
   */
  readonly chatTemplate?: string;
}

/** What a conversion wrote. */
export interface ConvertResult {
  /** The model's manifest entry. */
  readonly model: ManifestModel;
  /** Path of the updated treespec.json. */
  readonly manifestPath: string;
  /** Bytes of the .onnx file plus its external data. */
  readonly bytes: number;
  /**
   * Tensors of the checkpoint that the config does not call for and the model leaves out (as
   * transformers does, which warns about them): often a sign that the config names the wrong
   * architecture, e.g. a Qwen3 checkpoint, whose q/k norms a Llama config drops.
   */
  readonly unusedTensors: readonly string[];
}

/**
 * Converts a Llama-family causal LM (Llama 2/3, Mistral, Qwen2/2.5, Qwen3) into a treespec
 * causal-LM ONNX model with tree attention bias, KV cache and feature output, copies its
 * tokenizer files and records it in the output directory's treespec.json.
 * @throws CheckpointError naming the file and the problem when the checkpoint cannot be converted.
 */
export async function convertCausalLM(options: ConvertCausalLMOptions): Promise<ConvertResult> {
  requireFolders({ checkpoint: options.checkpoint, out: options.out });
  return intoOutputDirectory(options.out, [options.checkpoint], () => writeCausalLM(options));
}

async function writeCausalLM(options: ConvertCausalLMOptions): Promise<ConvertResult> {
  const role = requireOneOf('role', options.role, ['target', 'draft'] as const) ?? 'target';
  const attention = options.attention ?? 'plain';
  if (attention !== 'plain' && attention !== 'in-place' && attention !== 'fused')
    throw new OptionError('attention', attention, '"plain", "in-place" or "fused"');
  if (attention !== 'plain' && role !== 'target')
    throw new OptionError(
      'attention',
      attention,
      '"plain" for a draft model (its runner reads a bsnh cache)',
    );
  if (attention !== 'plain' && options.graph?.attentionPrecision === 'float64')
    throw new OptionError(
      'graph.attentionPrecision',
      'float64',
      `"float32" or none with ${attention} attention (only plain attention sums in float64)`,
    );
  if (options.chatTemplate !== undefined) {
    if (role !== 'target')
      throw new OptionError(
        'role',
        role,
        '"target" when a chatTemplate is given (the template belongs to the bundle’s tokenizer)',
      );
    checkChatTemplate(options.chatTemplate);
  }
  const { json, file } = await readConfigJson(options.checkpoint);
  const config = parseDecoderConfig(json, file);
  const resolved = resolveOptions(options, role, config);
  // A target's greedy output must not depend on the tree (see GraphOptions.attentionPrecision).
  const graph: GraphOptions = {
    attentionPrecision:
      role === 'target' && attention === 'plain' && resolved.format.quantizesActivations
        ? 'float64'
        : 'float32',
    ...resolved.graph,
  };
  // A corrupt manifest in the output directory fails here, before any file is written.
  const existing = await readManifest(options.out);
  if (options.eagle3Layers !== undefined && role !== 'target') {
    throw new OptionError(
      'eagle3Layers',
      options.eagle3Layers,
      'given only for a target (an EAGLE-3 head reads the inputs of its target’s layers)',
    );
  }
  if (options.draftVocab && role !== 'draft') {
    throw new OptionError(
      'draftVocab',
      options.draftVocab.size,
      'given only for a draft LM or an EAGLE head (a target verifies over its whole vocabulary)',
    );
  }
  if (options.draftVocab?.contextTokens) {
    throw new OptionError(
      'draftVocabContext',
      options.draftVocab.contextTokens,
      'given only for an EAGLE-1/2 head (a draft LM scores its draft vocabulary alone)',
    );
  }
  const draftVocabulary = options.draftVocab
    ? await frequencyVocabulary(options.draftVocab, options.checkpoint, config.vocab)
    : null;
  const capturedLayers =
    options.eagle3Layers === undefined ? [] : capturedLayersFor(options.eagle3Layers, config.layers, file);
  // A draft LM scores only the rows a call needs; a target's verification reads every row, its
  // logits or, when greedy, its greedy token.
  const io = role === 'draft' ? withDraftSummary(DRAFT_LM_IO) : TARGET_IO;
  const names =
    attention === 'plain'
      ? withPresentRows(withCacheOutputs(io))
      : attention === 'in-place'
        ? withPresentRows(io)
        : io;
  const checkpoint = await Checkpoint.open(options.checkpoint);
  try {
    if (checkpoint.has('fc.weight') || checkpoint.has('model.fc.weight')) {
      throw new CheckpointError(
        'unsupported-config',
        file,
        'is the config of an EAGLE head (its weights hold fc.weight), not of a causal LM: convert it with ' +
          '--role eagle-head --target <its target checkpoint> (convertEagleHead)',
      );
    }
    const lmHeadName = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const lmHead = await checkpoint.fingerprint(lmHeadName, [config.vocab, config.hidden]);
    if (role === 'target')
      checkTargetFitsBundle(existing, resolved.id, lmHead.sha256, capturedLayers, file, options.out);
    checkVocabularyFitsBundle(existing, resolved.id, config.vocab, file, options.out);
    const tokenizer = await stageTokenizerFiles(
      options.checkpoint,
      options.out,
      config,
      options.chatTemplate,
      role === 'target',
    );
    return await addToBundle({
      out: options.out,
      resolved,
      config,
      tokenizer,
      checkpoint,
      build: (g) =>
        buildCausalLMGraph(
          g,
          checkpoint,
          config,
          resolved.format,
          graph,
          resolved.maxContext,
          names,
          capturedLayers,
          draftVocabulary?.map ?? null,
          attention,
        ),
      entry: {
        role,
        graph: 'causal-lm',
        inputs: names.inputs,
        outputs:
          capturedLayers.length > 0
            ? {
                ...names.outputs,
                capturedFeature: CAPTURED_FEATURE_OUTPUT,
                ...(names.outputs.rowOutputs ? { capturedRowOutputs: CAPTURED_ROW_OUTPUTS } : {}),
              }
            : names.outputs,
        ...(capturedLayers.length > 0 ? { capturedLayers } : {}),
        ...(draftVocabulary ? { draftVocab: draftVocabulary.manifest } : {}),
        ...(attention !== 'plain' ? { attention } : {}),
        ...(attention === 'plain' && graph.attentionPrecision === 'float64'
          ? { attentionPrecision: 'float64' as const }
          : {}),
        kvCache: manifestKvCache(config, attention),
        rope: manifestRope(config),
        rmsNormEps: config.rmsNormEps,
        feature: 'final-norm',
        tokenizer: tokenizer.info,
        source: manifestSource(config, options.checkpoint),
        lmHead,
      },
      signal: options.signal,
    });
  } finally {
    await checkpoint.close();
  }
}
