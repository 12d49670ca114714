import { Template } from '@huggingface/jinja';
import { type ChatMessage, OptionError } from '@treespec/core';
import { ChatTemplateError } from './errors.js';
import { renderWithinBudget, type TemplateBudget, TemplateBudgetExceeded } from './template-budget.js';

/** Chat messages and their content parts are core's contract, passed to the template as they are. */
export type { ChatContentPart, ChatMessage } from '@treespec/core';

/** Options of {@link ChatTemplate.render}. */
export interface ChatRenderOptions {
  /**
   * Ends the text with the header of an assistant turn (the template's `add_generation_prompt`),
   * which is what a model should continue when it is asked to answer. Default false, as in
   * `transformers`.
   */
  addGenerationPrompt?: boolean;
  /** Tool (function) definitions, passed as `tools` to templates that support them. */
  tools?: readonly unknown[];
  /** Documents for retrieval-augmented templates, passed as `documents`. */
  documents?: readonly unknown[];
  /** Further template variables, e.g. `{ enable_thinking: false }`. */
  variables?: Readonly<Record<string, unknown>>;
}

/**
 * A Jinja chat template (the `chat_template` of `tokenizer_config.json`), rendered with
 * `@huggingface/jinja` the way `transformers`' `apply_chat_template` renders it: the template
 * sees `messages`, `add_generation_prompt`, `tools`, `documents`, the special tokens
 * (`bos_token`, `eos_token`, …) and any extra variables. The template is parsed on first use.
 */
export class ChatTemplate {
  /** The template's name: "default" unless the tokenizer has several. */
  readonly name: string;
  /** The Jinja source. */
  readonly source: string;
  /** The file it came from, for error messages. */
  readonly file: string | undefined;
  private readonly specialTokens: Readonly<Record<string, unknown>>;
  private readonly budget: TemplateBudget;
  private parsed: Template | null = null;

  /**
   * @param source Jinja source of the template.
   * @param options `specialTokens` are template variables such as `{ bos_token: '<s>' }`;
   *   `name` and `file` appear in error messages; `budget` limits each render's time and size.
   */
  constructor(
    source: string,
    options: {
      name?: string;
      file?: string;
      specialTokens?: Readonly<Record<string, unknown>>;
      budget?: TemplateBudget;
    } = {},
  ) {
    this.name = options.name ?? 'default';
    this.file = options.file;
    if (typeof source !== 'string' || source.length === 0) {
      throw new ChatTemplateError(this.name, 'expected a non-empty Jinja template string', {
        file: this.file,
      });
    }
    this.source = source;
    this.specialTokens = options.specialTokens ?? {};
    this.budget = options.budget ?? {};
  }

  /** Renders `messages` to the prompt text (not tokenized; it usually starts with BOS text). */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    checkMessages(messages);
    const template = this.compile();
    // `tools` and `documents` are none rather than undefined where not given, as transformers
    // passes them (`{% if tools is not none %}` must read false).
    const variables: Record<string, unknown> = {
      ...this.specialTokens,
      tools: null,
      documents: null,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    if (options.tools !== undefined) variables['tools'] = options.tools;
    if (options.documents !== undefined) variables['documents'] = options.documents;
    try {
      return renderWithinBudget(template, variables, this.budget);
    } catch (cause) {
      const stopped = cause instanceof TemplateBudgetExceeded ? 'stopped' : 'failed to render';
      throw new ChatTemplateError(this.name, `${stopped}: ${(cause as Error).message}`, {
        file: this.file,
        cause,
      });
    }
  }

  private compile(): Template {
    if (this.parsed) return this.parsed;
    try {
      this.parsed = new Template(this.source);
    } catch (cause) {
      throw new ChatTemplateError(this.name, `is not valid Jinja: ${(cause as Error).message}`, {
        file: this.file,
        cause,
      });
    }
    return this.parsed;
  }
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) {
    throw new OptionError('messages', messages, 'an array of { role, content } objects');
  }
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    if (message === null || typeof message !== 'object' || typeof message.role !== 'string') {
      throw new OptionError(`messages[${i}]`, message, 'an object with a string "role"');
    }
  }
}

/**
 * Reads the chat templates a tokenizer config carries: `chat_template` is either one template
 * (named "default") or a list of `{ name, template }` (as `transformers` saves several).
 */
export function readChatTemplates(value: unknown, file: string): Map<string, string> {
  const templates = new Map<string, string>();
  if (value === undefined || value === null) return templates;
  if (typeof value === 'string') {
    templates.set('default', value);
    return templates;
  }
  const entries: unknown[] = Array.isArray(value)
    ? value
    : typeof value === 'object'
      ? Object.entries(value as Record<string, unknown>).map(([name, template]) => ({ name, template }))
      : [value];
  for (const entry of entries) {
    const { name, template } = (entry ?? {}) as { name?: unknown; template?: unknown };
    if (typeof name !== 'string' || typeof template !== 'string') {
      throw new ChatTemplateError(
        typeof name === 'string' ? name : '?',
        `"chat_template" must be a string or a list of { "name": string, "template": string }; found ${JSON.stringify(entry)}`,
        { file },
      );
    }
    templates.set(name, template);
  }
  return templates;
}

/**
 * Picks a template the way `transformers` does: the one named, else "tool_use" when tools are
 * given and it exists, else "default", else the only one.
 */
export function pickTemplateName(
  names: readonly string[],
  requested: string | undefined,
  hasTools: boolean,
  file: string,
): string {
  if (requested !== undefined) {
    if (names.includes(requested)) return requested;
    throw new ChatTemplateError(
      requested,
      names.length === 0
        ? 'this tokenizer has no chat template'
        : `not found; this tokenizer has ${names.map((n) => `"${n}"`).join(', ')}`,
      { file },
    );
  }
  if (hasTools && names.includes('tool_use')) return 'tool_use';
  if (names.includes('default')) return 'default';
  if (names.length === 1) return names[0]!;
  throw new ChatTemplateError(
    'default',
    names.length === 0
      ? 'this tokenizer has no chat template; give the bundle one (treespec convert --chat-template <file>), ' +
          'or pass one to loadTreespec(dir, { chatTemplate }) or loadTokenizer(source, { chatTemplate })'
      : `none is named "default"; choose one of ${names.map((n) => `"${n}"`).join(', ')} with { template }`,
    { file },
  );
}
