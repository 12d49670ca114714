import { type LanguageModelV4Prompt, UnsupportedFunctionalityError } from '@ai-sdk/provider';
import type { EngineChatMessage } from './treespec-engine.js';

/**
 * How the provider hands the AI SDK's messages to the engine: `chat` renders them with the
 * model's chat template; `text` joins their text with blank lines and encodes it as is (base
 * models without a template, and the same prompt `treespec generate` takes).
 */
export type PromptFormat = 'chat' | 'text';

/**
 * Turns the AI SDK's prompt into treespec's: system, user and assistant text. Files, tool calls
 * and tool results are refused with `UnsupportedFunctionalityError`.
 */
export function toEnginePrompt(
  prompt: LanguageModelV4Prompt,
  format: PromptFormat,
): string | EngineChatMessage[] {
  const messages: EngineChatMessage[] = prompt.map((message) => {
    if (message.role === 'system') return { role: 'system', content: message.content };
    if (message.role === 'tool') {
      throw new UnsupportedFunctionalityError({ functionality: 'tool messages' });
    }
    const text = message.content
      .map((part) => {
        if (part.type === 'text') return part.text;
        if (part.type === 'reasoning') return '';
        throw new UnsupportedFunctionalityError({
          functionality: `${part.type} parts in ${message.role} messages`,
        });
      })
      .join('');
    return { role: message.role, content: text };
  });
  return format === 'chat' ? messages : messages.map((m) => m.content).join('\n\n');
}
