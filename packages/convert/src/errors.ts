import { ModelFormatError } from '@treespec/core';

/** Why a checkpoint could not be converted. */
export type CheckpointProblem =
  | 'unreadable'
  | 'missing-file'
  | 'bad-header'
  | 'truncated'
  | 'unsupported-dtype'
  | 'unsupported-layout'
  | 'missing-tensor'
  | 'shape-mismatch'
  | 'unknown-architecture'
  | 'unsupported-config'
  | 'bad-config'
  | 'mismatch';

/**
 * A checkpoint (config.json, safetensors, tokenizer files) that cannot become a correct ONNX model.
 * `file` names the file, `problem` says what kind of fault it is, and the message says what was
 * expected and what was found.
 */
export class CheckpointError extends ModelFormatError {
  readonly problem: CheckpointProblem;

  constructor(problem: CheckpointProblem, file: string, message: string, options?: { cause?: unknown }) {
    super(message, {
      file,
      code: problem === 'mismatch' ? 'MODEL_MISMATCH' : 'MODEL_FORMAT',
      cause: options?.cause,
    });
    this.problem = problem;
  }
}
