import { describeValue, ModelFormatError } from '@treespec/core';
import type { ManifestModel } from './manifest-schema.js';

/** Thrown when two models cannot work together; names both files and both values. */
export class ModelMismatchError extends ModelFormatError {
  /** The property that differs, e.g. `vocab`. */
  readonly property: string;
  readonly targetFile: string;
  readonly partnerFile: string;
  readonly targetValue: unknown;
  readonly partnerValue: unknown;

  constructor(
    property: string,
    target: { file: string; value: unknown },
    partner: { file: string; role: string; value: unknown },
  ) {
    super(
      `${partner.role} ${partner.file} does not fit target ${target.file}: ${property} is ` +
        `${describeValue(partner.value)} in ${partner.file} but ${describeValue(target.value)} in ${target.file}`,
      { code: 'MODEL_MISMATCH' },
    );
    this.property = property;
    this.targetFile = target.file;
    this.partnerFile = partner.file;
    this.targetValue = target.value;
    this.partnerValue = partner.value;
  }
}

/** Where the two models of {@link checkModelPair} live, for its messages. */
export interface ModelPairFiles {
  /** Path shown for the target; default its manifest `file`. */
  readonly target?: string;
  /** Path shown for the partner; default its manifest `file`. */
  readonly partner?: string;
}

/**
 * Checks that `partner` (a draft LM or an EAGLE head) can work with `target`: same vocabulary size,
 * same tokenizer, and for heads the same hidden size and feature, and the target's lm_head.
 * @throws ModelMismatchError naming both files and both values of the first property that differs.
 */
export function checkModelPair(
  target: ManifestModel,
  partner: ManifestModel,
  files: ModelPairFiles = {},
): void {
  const targetFile = files.target ?? target.file;
  const partnerFile = files.partner ?? partner.file;
  const same = (property: string, a: unknown, b: unknown) => {
    if (a !== b) {
      throw new ModelMismatchError(
        property,
        { file: targetFile, value: a },
        { file: partnerFile, role: partner.role, value: b },
      );
    }
  };
  if (target.role !== 'target') {
    throw new ModelFormatError(`expected a model with role "target"; found role "${target.role}"`, {
      file: targetFile,
      code: 'MODEL_MISMATCH',
    });
  }
  if (partner.role === 'target') {
    throw new ModelFormatError(
      `expected a partner with role "draft" or "eagle-head" for ${targetFile}; found role "target"`,
      {
        file: partnerFile,
        code: 'MODEL_MISMATCH',
      },
    );
  }
  same('vocab size', target.dims.vocab, partner.dims.vocab);
  same('tokenizer.json sha256', target.tokenizer.sha256, partner.tokenizer.sha256);
  if (partner.role === 'eagle3-head') {
    same('hidden size', target.dims.hidden, partner.dims.hidden);
    same('captured layers', capturedLayersText(target), capturedLayersText(partner));
  }
  if (partner.role === 'eagle-head') {
    same('hidden size', target.dims.hidden, partner.dims.hidden);
    same('feature', target.feature, partner.feature);
    if (target.lmHead && partner.base)
      same('lm_head sha256', target.lmHead.sha256, partner.base.lmHead.sha256);
  }
}

function capturedLayersText(model: ManifestModel): string {
  return model.capturedLayers
    ? `[${model.capturedLayers.join(', ')}]`
    : 'none (converted without --eagle3-layers)';
}
