import { OptionError } from '@treespec/core';

/**
 * The flags that set a library option, by the option's name; only names that mean one option
 * (`topK` is both the sampling flag's and the tree flags' and stays unmapped).
 */
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
  eagle3Layers: '--eagle3-layers',
  executionProvider: '--provider',
  id: '--id',
  maxContext: '--max-context',
  maxTokens: '--max-tokens',
  minP: '--min-p',
  models: '--models',
  repetitionPenalty: '--repetition-penalty',
  seed: '--seed',
  stop: '--stop',
  temperature: '--temperature',
  topP: '--top-p',
  role: '--role',
  weightFormat: '--weights',
};

/**
 * The message of `error` as a command's user reads it: an {@link OptionError} about a library
 * option that a flag sets names the flag (`--max-context`, not `maxContext`), and one about the
 * prompt names the prompt argument.
 */
export function messageInFlagTerms(error: Error): string {
  if (!(error instanceof OptionError)) return error.message;
  const named = `option "${error.option}"`;
  if (error.option === 'prompt') return error.message.replace(named, 'the prompt');
  // A list's item (`stop[0]`) is its flag's value.
  const flag = FLAG_OF_OPTION[error.option.replace(/\[\d*\]$/, '')];
  return flag === undefined ? error.message : error.message.replace(named, `option "${flag}"`);
}
