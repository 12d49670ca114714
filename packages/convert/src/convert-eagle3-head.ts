import { basename, resolve } from 'node:path';
import { OptionError } from '@treespec/core';
import { EAGLE3_HEAD_IO } from '@treespec/onnx';
import { headBaseInBundle } from './bundle-fit.js';
import { addToBundle } from './bundle-model.js';
import { withCacheOutputs, withStepOutputs } from './causal-lm-graph.js';
import type { Checkpoint } from './checkpoint.js';
import { capturedLayersFor, type DecoderConfig, type Eagle3HeadConfig } from './config.js';
import type { ConvertResult } from './convert-causal-lm.js';
import {
  type CommonConvertOptions,
  manifestKvCache,
  manifestRope,
  manifestSource,
  resolveOptions,
  withHeadContext,
} from './convert-options.js';
import type { DraftVocabularyMap } from './draft-vocabulary.js';
import { buildEagle3HeadGraph } from './eagle3-head-graph.js';
import { CheckpointError } from './errors.js';
import { checkHeadFitsTarget } from './head-fit.js';
import { readManifest } from './manifest-file.js';
import { stageTokenizerFiles } from './tokenizer-files.js';

/** What {@link convertEagle3Head} works from: both configs parsed and both checkpoints open. */
export interface Eagle3Sources {
  readonly options: CommonConvertOptions & {
    readonly checkpoint: string;
    readonly target: string;
    readonly eagle3Layers?: readonly number[];
  };
  readonly config: Eagle3HeadConfig;
  readonly targetConfig: DecoderConfig;
  readonly checkpoint: Checkpoint;
  readonly target: Checkpoint;
}

/**
 * Converts an EAGLE-3 head (published SafeAILab layout) into a treespec `eagle3-head` model: the
 * target's embedding is copied in, `d2t` becomes the graph's draft→target table, and the manifest
 * records the draft vocabulary (with that table's target ids) and the captured target layers (the head's config, else
 * `eagle3Layers`, else EAGLE's reference rule). A target converted into the same directory must
 * capture the same layers.
 * @throws CheckpointError `mismatch` when the head does not fit the target (hidden size,
 * vocabulary, `d2t` range, captured layers), `missing-tensor` without `d2t`.
 */
export async function convertEagle3Head(sources: Eagle3Sources): Promise<ConvertResult> {
  const { options, config, targetConfig, checkpoint, target } = sources;
  checkHeadFitsTarget(config, targetConfig, 'EAGLE-3 head');
  const given = options.eagle3Layers;
  if (given !== undefined && config.capturedLayers && given.join() !== config.capturedLayers.join()) {
    throw new OptionError(
      'eagle3Layers',
      given,
      `the layers ${config.file} names ([${config.capturedLayers.join(', ')}]), or absent: the head was trained on those`,
    );
  }
  const capturedLayers = capturedLayersFor(
    config.capturedLayers ?? given ?? 'reference',
    targetConfig.layers,
    config.file,
  );
  const vocabulary = await readDraftToTarget(checkpoint, config);
  const io = withStepOutputs(withCacheOutputs(EAGLE3_HEAD_IO));
  const existing = await readManifest(options.out);
  const { vocab, hidden } = targetConfig;
  const lmHeadName = targetConfig.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const lmHeadFingerprint = await target.fingerprint(lmHeadName, [vocab, hidden]);
  const baseEntry = headBaseInBundle(existing, lmHeadFingerprint.sha256, config.file, options.out);
  const resolved = resolveOptions(
    withHeadContext(options, baseEntry, targetConfig.maxPositions),
    'eagle3-head',
    targetConfig,
  );
  if (baseEntry && baseEntry.capturedLayers?.join() !== capturedLayers.join()) {
    throw new CheckpointError(
      'mismatch',
      config.file,
      `the EAGLE-3 head fuses the inputs of target layers [${capturedLayers.join(', ')}] but target "${baseEntry.id}" in ${options.out} captures ${baseEntry.capturedLayers ? `[${baseEntry.capturedLayers.join(', ')}]` : 'none'}; convert the target with --eagle3-layers ${capturedLayers.join(',')}`,
    );
  }
  const tokenizer = await stageTokenizerFiles(options.target, options.out, targetConfig);
  const embedding = target.matrix('model.embed_tokens.weight', vocab, hidden);
  return addToBundle({
    out: options.out,
    resolved,
    config,
    tokenizer,
    checkpoint,
    build: (g) =>
      buildEagle3HeadGraph(
        g,
        checkpoint,
        config,
        { embedding, vocabulary, capturedCount: capturedLayers.length },
        resolved.format,
        resolved.graph,
        resolved.maxContext,
        io,
      ),
    entry: {
      role: 'eagle3-head',
      graph: 'eagle3-head',
      inputs: io.inputs,
      outputs: io.outputs,
      kvCache: manifestKvCache(config),
      rope: manifestRope(config),
      rmsNormEps: config.rmsNormEps,
      feature: 'captured-layers',
      capturedLayers,
      draftVocab: {
        size: config.draftVocab,
        source: 'eagle3-d2t',
        targetIds: Array.from(vocabulary.targetIds),
      },
      tokenizer: tokenizer.info,
      source: manifestSource(config, options.checkpoint),
      base: { id: baseEntry?.id ?? basename(resolve(options.target)), lmHead: lmHeadFingerprint },
    },
    signal: options.signal,
  });
}

/**
 * The head's draft→target table from `d2t` (target id = draft id + d2t[draft id]); identity when
 * the draft vocabulary is the whole target vocabulary and the head stores no `d2t`.
 * @throws CheckpointError `missing-tensor` without `d2t`, `mismatch` for a target id outside the
 * target vocabulary or used twice.
 */
async function readDraftToTarget(
  checkpoint: Checkpoint,
  config: Eagle3HeadConfig,
): Promise<DraftVocabularyMap> {
  const size = config.draftVocab;
  const targetIds = new Int32Array(size);
  if (!checkpoint.has('d2t') && size === config.vocab) {
    for (let d = 0; d < size; d++) targetIds[d] = d;
    return { targetIds };
  }
  const d2t = await checkpoint.integerVector('d2t', size);
  const seen = new Uint8Array(config.vocab);
  for (let d = 0; d < size; d++) {
    const id = d + d2t[d]!;
    if (!(id >= 0 && id < config.vocab) || seen[id]) {
      throw new CheckpointError(
        'mismatch',
        checkpoint.directory,
        `d2t maps draft id ${d} to target id ${id}, which is ${seen[id] ? 'already taken by another draft id' : `outside the target vocabulary [0, ${config.vocab})`}`,
      );
    }
    seen[id] = 1;
    targetIds[d] = id;
  }
  return { targetIds };
}
