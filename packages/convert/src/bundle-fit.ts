import type { Manifest, ManifestModel } from '@treespec/onnx';
import { CheckpointError } from './errors.js';

const HEAD_ROLES = new Set(['eagle-head', 'eagle3-head']);

/**
 * The target in the folder a head is converted into that the head was trained against: the one
 * with its `--target`'s lm_head (`lmHeadSha256`); undefined where the folder holds no target.
 * Refuses a folder whose targets all have another lm_head: loading such a bundle would fail on
 * every later load.
 */
export function headBaseInBundle(
  bundle: Manifest | null,
  lmHeadSha256: string,
  headFile: string,
  out: string,
): ManifestModel | undefined {
  const targets = bundle?.models.filter((m) => m.role === 'target') ?? [];
  const base = targets.find((t) => t.lmHead?.sha256 === lmHeadSha256);
  if (base || targets.length === 0) return base;
  throw new CheckpointError(
    'mismatch',
    headFile,
    `the target ${names(targets)} in ${out} was converted from another checkpoint than this head's target ` +
      `(lm_head sha256 ${targets[0]!.lmHead?.sha256 ?? 'unknown'}, against ${lmHeadSha256}); ` +
      "convert the head into its own target's folder",
  );
}

/**
 * Refuses a target that would orphan the heads in the folder it is converted into: heads converted
 * for the target of this id (or for any target, where the folder has no other) whose lm_head is
 * another, and EAGLE-3 heads that read layers this target would not capture.
 */
export function checkTargetFitsBundle(
  bundle: Manifest | null,
  id: string,
  lmHeadSha256: string,
  capturedLayers: readonly number[],
  configFile: string,
  out: string,
): void {
  if (!bundle) return;
  const otherTargets = bundle.models.some((m) => m.role === 'target' && m.id !== id);
  const heads = bundle.models.filter((m) => HEAD_ROLES.has(m.role) && (m.base?.id === id || !otherTargets));
  const foreign = heads.filter((h) => h.base?.lmHead && h.base.lmHead.sha256 !== lmHeadSha256);
  if (foreign.length > 0) {
    throw new CheckpointError(
      'mismatch',
      configFile,
      `${out} holds the head ${names(foreign)}, converted for another target (lm_head sha256 ` +
        `${foreign[0]!.base!.lmHead!.sha256}, against this checkpoint's ${lmHeadSha256}); ` +
        'convert this target into another folder, or give it another --id',
    );
  }
  const reading = heads.find(
    (h) => h.role === 'eagle3-head' && h.capturedLayers && h.capturedLayers.join() !== capturedLayers.join(),
  );
  if (reading) {
    const wanted = reading.capturedLayers!;
    throw new CheckpointError(
      'mismatch',
      configFile,
      `${out} holds the EAGLE-3 head "${reading.id}", which reads target layers [${wanted.join(', ')}], ` +
        `but this target captures ${capturedLayers.length > 0 ? `[${capturedLayers.join(', ')}]` : 'none'}; ` +
        `convert it with --eagle3-layers ${wanted.join(',')}`,
    );
  }
}

/**
 * Refuses a causal LM whose vocabulary is not that of the bundle's other causal LMs (a draft LM
 * drafts ids its target verifies: Qwen2.5-0.5B's 151 936 rows against Qwen2.5-7B's 152 064 would
 * load only to be refused), naming both; a model converted again under its own id is not compared
 * with itself.
 */
export function checkVocabularyFitsBundle(
  bundle: Manifest | null,
  id: string,
  vocab: number,
  configFile: string,
  out: string,
): void {
  const other = bundle?.models.find(
    (m) => (m.role === 'target' || m.role === 'draft') && m.id !== id && m.dims.vocab !== vocab,
  );
  if (!other) return;
  throw new CheckpointError(
    'mismatch',
    configFile,
    `vocab_size is ${vocab}, but the ${other.role} "${other.id}" in ${out} has ${other.dims.vocab}: a target ` +
      'and its draft LM must share one vocabulary (pad the smaller embedding and lm_head to the larger, ' +
      'or convert into another folder)',
  );
}

function names(models: readonly ManifestModel[]): string {
  return models.map((m) => `"${m.id}"`).join(', ');
}
