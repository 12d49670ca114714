import { OptionError } from '@treespec/core';

/** The flags that set a library option, by the option's name. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  attention: '--attention',
  'graph.attentionPrecision': '--attention-precision',
  blockSize: '--block-size',
  chatTemplate: '--chat-template',
  draftSampling: '--draft-sampling',
  draftVocab: '--draft-vocab',
  draftVocabContext: '--draft-vocab-context',
  draftVocabCorpus: '--draft-vocab-corpus',
  drafter: '--drafter',
  executionProvider: '--provider',
  id: '--id',
  maxContext: '--max-context',
  models: '--models',
  role: '--role',
  weightFormat: '--weights',
};

/**
 * The message of `error` as a command's user reads it: an {@link OptionError} about a library
 * option that a flag sets names the flag (`--max-context`, not `maxContext`).
 */
export function messageInFlagTerms(error: Error): string {
  if (!(error instanceof OptionError)) return error.message;
  const flag = FLAG_OF_OPTION[error.option];
  return flag === undefined
    ? error.message
    : error.message.replace(`option "${error.option}"`, `option "${flag}"`);
}
