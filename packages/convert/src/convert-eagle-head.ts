import { basename, resolve } from 'node:path';
import { OptionError } from '@treespec/core';
import { EAGLE_HEAD_CONTEXT_IO, EAGLE_HEAD_IO } from '@treespec/onnx';
import { headBaseInBundle } from './bundle-fit.js';
import { addToBundle } from './bundle-model.js';
import { withCacheOutputs, withStepOutputs } from './causal-lm-graph.js';
import { Checkpoint } from './checkpoint.js';
import {
  parseDecoderConfig,
  parseEagle3HeadConfig,
  parseEagleHeadConfig,
  recognizeHeadLayout,
} from './config.js';
import type { ConvertResult } from './convert-causal-lm.js';
import { convertEagle3Head } from './convert-eagle3-head.js';
import {
  type CommonConvertOptions,
  manifestKvCache,
  manifestRope,
  manifestSource,
  requireFolders,
  resolveOptions,
  withHeadContext,
} from './convert-options.js';
import { buildEagleHeadGraph } from './eagle-head-graph.js';
import { CheckpointError } from './errors.js';
import { type FrequencyVocabularyOptions, frequencyVocabulary } from './frequency-vocabulary.js';
import { checkHeadFitsTarget } from './head-fit.js';
import { readManifest } from './manifest-file.js';
import { intoOutputDirectory } from './output-directory.js';
import { readConfigJson } from './read-config.js';
import { stageTokenizerFiles } from './tokenizer-files.js';

/** Options of {@link convertEagleHead}. */
export interface ConvertEagleHeadOptions extends CommonConvertOptions {
  /** The head's checkpoint directory (EAGLE layout: `fc.*`, `layers.0.*`, optional `embed_tokens.weight`). */
  readonly checkpoint: string;
  /** The target's Hugging Face checkpoint directory: its lm_head (and embedding when the head has none) and tokenizer. */
  readonly target: string;
  /**
   * EAGLE-3 heads: the target layers whose inputs the head fuses, when its config does not say
   * (default: EAGLE's rule); one that names others is refused. Refused for EAGLE-1/2 heads.
   */
  readonly eagle3Layers?: readonly number[];
  /**
   * EAGLE-1/2 heads, FR-Spec: compute logits over the K most frequent target tokens of a corpus
   * only, and over up to `contextTokens` tokens of the generation's context beside them.
   */
  readonly draftVocab?: FrequencyVocabularyOptions;
}

/**
 * Converts an EAGLE head into a treespec model: an EAGLE-1/2 head (`fc` over 2H, `layers.0.*`)
 * into an eagle-head model, or an EAGLE-3 head (`LlamaForCausalLMEagle3`, `midlayer.*`, `d2t`)
 * into an eagle3-head model (see {@link convertEagle3Head}), recognised from the config and the
 * tensor names. An EAGLE-1/2 head gets the target's lm_head copied in (and its embedding too when
 * the head has no copy), so the target checkpoint is needed; the head's hidden size and vocabulary
 * must equal the target's.
 * @throws CheckpointError naming the file and the problem; `mismatch` names both configs;
 * `unknown-architecture` for a head layout treespec does not know.
 */
export async function convertEagleHead(options: ConvertEagleHeadOptions): Promise<ConvertResult> {
  requireFolders({ checkpoint: options.checkpoint, target: options.target, out: options.out });
  return intoOutputDirectory(options.out, [options.checkpoint, options.target], () =>
    writeEagleHead(options),
  );
}

async function writeEagleHead(options: ConvertEagleHeadOptions): Promise<ConvertResult> {
  const head = await readConfigJson(options.checkpoint);
  const base = await readConfigJson(options.target);
  const targetConfig = parseDecoderConfig(base.json, base.file);
  const probe = await Checkpoint.open(options.checkpoint);
  const layout = recognizeHeadLayout(head.json, probe.tensorNames, head.file);
  if (layout === 'eagle3') {
    if (options.draftVocab) {
      await probe.close();
      throw new OptionError(
        'draftVocab',
        options.draftVocab.size,
        'absent for an EAGLE-3 head (its d2t is its draft vocabulary)',
      );
    }
    const target = await Checkpoint.open(options.target);
    try {
      const config = parseEagle3HeadConfig(head.json, head.file);
      return await convertEagle3Head({ options, config, targetConfig, checkpoint: probe, target });
    } finally {
      await Promise.all([probe.close(), target.close()]);
    }
  }
  await probe.close();
  if (options.eagle3Layers !== undefined) {
    throw new OptionError(
      'eagle3Layers',
      options.eagle3Layers,
      `absent for an EAGLE-1/2 head (${head.file} is one: it reads the target's last hidden state)`,
    );
  }
  const config = parseEagleHeadConfig(head.json, head.file);
  checkHeadFitsTarget(config, targetConfig, 'EAGLE head');
  const draftVocabulary = options.draftVocab
    ? await frequencyVocabulary(options.draftVocab, options.target, targetConfig.vocab)
    : null;
  const io = withStepOutputs(
    withCacheOutputs(draftVocabulary?.map.contextTokens ? EAGLE_HEAD_CONTEXT_IO : EAGLE_HEAD_IO),
  );
  const existing = await readManifest(options.out);
  const checkpoint = await Checkpoint.open(options.checkpoint);
  const target = await Checkpoint.open(options.target);
  try {
    const prefix = checkpoint.has('fc.weight') ? '' : checkpoint.has('model.fc.weight') ? 'model.' : '';
    const { vocab, hidden } = targetConfig;
    const lmHeadName = targetConfig.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const lmHead = target.matrix(lmHeadName, vocab, hidden);
    const ownEmbedding = `${prefix}embed_tokens.weight`;
    const embedding = checkpoint.has(ownEmbedding)
      ? checkpoint.matrix(ownEmbedding, vocab, hidden)
      : target.matrix('model.embed_tokens.weight', vocab, hidden);
    const fcBias = checkpoint.has(`${prefix}fc.bias`);
    if (config.fcBias !== null && config.fcBias !== fcBias) {
      throw new CheckpointError(
        'mismatch',
        config.file,
        `"bias" is ${config.fcBias}, but the head's weights ${fcBias ? 'hold' : 'lack'} ${prefix}fc.bias; ` +
          'expected a config that describes these weights',
      );
    }
    const lmHeadFingerprint = await target.fingerprint(lmHeadName, [vocab, hidden]);
    const baseEntry = headBaseInBundle(existing, lmHeadFingerprint.sha256, config.file, options.out);
    const resolved = resolveOptions(
      withHeadContext(options, baseEntry, targetConfig.maxPositions),
      'eagle-head',
      targetConfig,
    );
    const tokenizer = await stageTokenizerFiles(options.target, options.out, targetConfig);
    return await addToBundle({
      out: options.out,
      resolved,
      config,
      tokenizer,
      checkpoint,
      build: (g) =>
        buildEagleHeadGraph(
          g,
          checkpoint,
          config,
          { embedding, lmHead, prefix, fcBias, draftVocabulary: draftVocabulary?.map ?? null },
          resolved.format,
          resolved.graph,
          resolved.maxContext,
          io,
        ),
      entry: {
        role: 'eagle-head',
        graph: 'eagle-head',
        inputs: io.inputs,
        outputs: io.outputs,
        kvCache: manifestKvCache(config),
        rope: manifestRope(config),
        rmsNormEps: config.rmsNormEps,
        feature: 'final-norm',
        ...(draftVocabulary ? { draftVocab: draftVocabulary.manifest } : {}),
        tokenizer: tokenizer.info,
        source: manifestSource(config, options.checkpoint),
        base: { id: baseEntry?.id ?? basename(resolve(options.target)), lmHead: lmHeadFingerprint },
      },
      signal: options.signal,
    });
  } finally {
    await Promise.all([checkpoint.close(), target.close()]);
  }
}
