import { ContextOverflowError } from '@treespec/core';
import type { ChatMessage } from '@treespec/tokenizers';

/**
 * Most characters one token is taken to cover when sizing a prompt before encoding it. Real
 * vocabularies stay far below (the longest tokens are runs of spaces or code indentation).
 */
export const MAX_CHARS_PER_TOKEN = 256;

/**
 * Refuses a text or chat prompt that cannot fit in `maxContext` tokens whatever it encodes to,
 * before encoding it (encoding a megabyte takes seconds and is thrown away).
 * @throws ContextOverflowError with the least number of positions the prompt needs.
 */
export function checkPromptSize(prompt: string | readonly ChatMessage[], maxContext: number): void {
  let chars = 0;
  if (typeof prompt === 'string') chars = prompt.length;
  else
    for (const message of prompt) chars += typeof message.content === 'string' ? message.content.length : 0;
  const least = Math.ceil(chars / MAX_CHARS_PER_TOKEN);
  if (least > maxContext) {
    throw new ContextOverflowError(
      least,
      maxContext,
      `a prompt of ${chars} characters (at least one token per ${MAX_CHARS_PER_TOKEN})`,
    );
  }
}
