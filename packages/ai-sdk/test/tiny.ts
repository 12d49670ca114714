import type { TextGenerator } from '@treespec/generator';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';

/**
 * The embedded tiny bundle (EAGLE-2 drafter, its plain-text chat template), drafting its whole
 * budget every step: these tests check what the server reports of speculation, which a budget
 * controller's timing-driven choices (a short answer decoded plainly) would make machine-dependent.
 */
export function loadTinyGenerator(): Promise<TextGenerator> {
  return loadTreespec(tinyModelDirectory(), { budget: 'fixed' });
}
