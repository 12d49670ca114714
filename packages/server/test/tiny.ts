import type { TextGenerator } from '@treespec/generator';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';

/**
 * A base model's chat template: the messages as plain text, one paragraph each. The tiny model
 * ships no template, and a story model continues plain text where it would end a ChatML turn at once.
 */
export const PLAIN_CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}{{ m.content }}{% if not loop.last %}\n\n{% endif %}{% endfor %}';

/**
 * The embedded tiny bundle (EAGLE-2 drafter) with {@link PLAIN_CHAT_TEMPLATE}, drafting its whole
 * budget every step: these tests check what the server reports of speculation, which a budget
 * controller's timing-driven choices (a short answer decoded plainly) would make machine-dependent.
 */
export function loadTinyGenerator(): Promise<TextGenerator> {
  return loadTreespec(tinyModelDirectory(), { chatTemplate: PLAIN_CHAT_TEMPLATE, budget: 'fixed' });
}
