import { OptionError } from '@treespec/core';

/**
 * The flags that set a library option, by the option's name; only names that mean one option
 * (`topK` is both the sampling flag's and the tree flags' and stays unmapped).
 */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  adaptive: '--adaptive',
  attention: '--attention',
  'graph.attentionPrecision': '--attention-precision',
  blockSize: '--block-size',
  chatTemplate: '--chat-template',
  corpus: '--corpus',
  draftSampling: '--(no-)draft-sampling',
  draftTree: '--draft-top-k/--draft-frontier/--draft-depth/--draft-tokens',
  draftVocab: '--draft-vocab',
  draftVocabContext: '--draft-vocab-context',
  draftVocabCorpus: '--draft-vocab-corpus',
  drafter: '--drafter',
  eagle3Layers: '--eagle3-layers',
  executionProvider: '--provider',
  headPromptRows: '--head-prompt-rows',
  hybridBase: '--hybrid-base',
  hybridPolicy: '--hybrid-policy',
  id: '--id',
  maxContext: '--max-context',
  maxTokens: '--max-tokens',
  minP: '--min-p',
  models: '--models',
  out: '--out',
  repetitionPenalty: '--repetition-penalty',
  seed: '--seed',
  stop: '--stop',
  temperature: '--temperature',
  topP: '--top-p',
  role: '--role',
  tree: '--tree-top-k/--tree-frontier/--tree-depth/--tree-tokens',
  weightFormat: '--weights',
};

/**
 * `text` with each library option it names (`option "maxContext"`, `option "stop[1]"`) named by the
 * flag that sets it (`option "--max-context"`); options no flag sets keep their names.
 */
export function inFlagTerms(text: string): string {
  return text.replace(/option "([^"]+)"/g, (named, option: string) => {
    // A list's item (`stop[0]`) is its flag's value.
    const flag = FLAG_OF_OPTION[option.replace(/\[\d*\]$/, '')];
    return flag === undefined ? named : `option "${flag}"`;
  });
}

/**
 * The message of `error` as a command's user reads it: an {@link OptionError} about a library
 * option that a flag sets names the flag (`--max-context`, not `maxContext`), and one about the
 * prompt names the prompt argument.
 */
export function messageInFlagTerms(error: Error): string {
  if (!(error instanceof OptionError)) return error.message;
  if (error.option === 'prompt') return error.message.replace('option "prompt"', 'the prompt');
  return inFlagTerms(error.message);
}
