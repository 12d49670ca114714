import { OptionError } from '@treespec/core';
import { describe, expect, it } from 'vitest';
import { type ChatMessage, ChatTemplate, ChatTemplateError, loadTokenizer } from '../src/index.js';
import { CHATML_TEMPLATE, tinyFiles } from './fixtures.js';

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2 + 2?' },
  { role: 'assistant', content: '4' },
  { role: 'user', content: 'And 3 + 3?' },
];

const RENDERED =
  '<s><|im_start|>system\nYou are terse.<|im_end|>\n' +
  '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n' +
  '<|im_start|>assistant\n4<|im_end|>\n' +
  '<|im_start|>user\nAnd 3 + 3?<|im_end|>\n';

/** The tiny tokenizer with `<|im_start|>` / `<|im_end|>` added as special tokens 8192 and 8193. */
function tinyWithChatTokens(chatTemplate: unknown = CHATML_TEMPLATE) {
  const files = tinyFiles();
  const added = files.tokenizer['added_tokens'] as unknown[];
  const token = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return loadTokenizer({
    ...files,
    tokenizer: {
      ...files.tokenizer,
      added_tokens: [...added, token(8192, '<|im_start|>'), token(8193, '<|im_end|>')],
    },
    config: { ...files.config, chat_template: chatTemplate },
  });
}

describe('chat templates', () => {
  it('renders a ChatML template to the expected string, with and without the generation prompt', () => {
    const template = new ChatTemplate(CHATML_TEMPLATE, { specialTokens: { bos_token: '<s>' } });
    expect(template.render(messages)).toBe(RENDERED);
    expect(template.render(messages, { addGenerationPrompt: true })).toBe(
      `${RENDERED}<|im_start|>assistant\n`,
    );
  });

  it('applies the chat_template of tokenizer_config.json with the config special tokens', async () => {
    const files = tinyFiles();
    const tokenizer = await loadTokenizer({
      ...files,
      config: { ...files.config, chat_template: CHATML_TEMPLATE },
    });
    expect(tokenizer.chatTemplateNames).toEqual(['default']);
    const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(text).toBe(`${RENDERED}<|im_start|>assistant\n`);
    // The template writes <s> itself, so encodeChat adds no second BOS.
    const ids = tokenizer.encodeChat(messages, { addGenerationPrompt: true });
    expect(Array.from(ids.subarray(0, 2))).toEqual([
      1,
      tokenizer.encode('<', { addSpecialTokens: false })[0],
    ]);
    expect(tokenizer.decode(ids, { skipSpecialTokens: false })).toBe(text);
  });

  it('stops on the end-of-turn marker as a string when it is not a token of the tokenizer', async () => {
    const files = tinyFiles();
    const tokenizer = await loadTokenizer({
      ...files,
      config: { ...files.config, chat_template: CHATML_TEMPLATE },
    });
    expect(tokenizer.endOfTurn).toEqual({ tokenIds: [], stopStrings: ['<|im_end|>'] });
    expect(tokenizer.eosTokenIds).toEqual([2]);
  });

  it('stops on the end-of-turn token and encodes chat markers as single tokens when the tokenizer has them', async () => {
    const tokenizer = await tinyWithChatTokens();
    expect(tokenizer.endOfTurn).toEqual({ tokenIds: [8193], stopStrings: [] });
    expect(tokenizer.eosTokenIds).toEqual([2, 8193]);
    const ids = Array.from(
      tokenizer.encodeChat([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }),
    );
    expect(ids.filter((id) => id >= 8192)).toEqual([8192, 8193, 8192]);
    expect(tokenizer.decode(ids)).toBe('user\nHi\nassistant\n');
  });

  it('picks among named templates as transformers does', async () => {
    const tokenizer = await tinyWithChatTokens([
      { name: 'default', template: '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}' },
      { name: 'tool_use', template: 'tools={{ tools | length }};{{ messages[0].content }}' },
    ]);
    const hi: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    expect(tokenizer.chatTemplateNames).toEqual(['default', 'tool_use']);
    expect(tokenizer.applyChatTemplate(hi)).toBe('[user] hi\n');
    expect(tokenizer.applyChatTemplate(hi, { tools: [{ name: 'f' }, { name: 'g' }] })).toBe('tools=2;hi');
    expect(tokenizer.applyChatTemplate(hi, { template: 'tool_use', tools: [] })).toBe('tools=0;hi');
    expect(() => tokenizer.applyChatTemplate(hi, { template: 'rag' })).toThrow(
      /chat template "rag": not found; this tokenizer has "default", "tool_use"/,
    );
  });

  it('passes extra variables, tools and documents to the template', () => {
    const template = new ChatTemplate(
      '{% if enable_thinking is defined and not enable_thinking %}/no_think {% endif %}' +
        '{% if documents %}{{ documents[0].title }}: {% endif %}{{ messages[-1].content }}',
    );
    const hi: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    expect(template.render(hi)).toBe('hi');
    expect(
      template.render(hi, { variables: { enable_thinking: false }, documents: [{ title: 'Doc' }] }),
    ).toBe('/no_think Doc: hi');
  });

  it("reads tools and documents as none where not given, and Python's True, False and None, as transformers does", () => {
    const hi: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    const tools = new ChatTemplate(
      '{% if tools is not none %}[tools] {% endif %}{% if documents is not none %}{{ documents | length }} docs {% endif %}{{ messages[0].content }}',
    );
    expect(tools.render(hi)).toBe('hi');
    expect(tools.render(hi, { tools: [{ name: 'f' }], documents: [{}, {}] })).toBe('[tools] 2 docs hi');
    const python = new ChatTemplate(
      '{% set ns = namespace(system=False) %}{% for m in messages %}{% if m.role == "system" %}{% set ns.system = True %}{% endif %}{% endfor %}' +
        '{% if not ns.system %}default system. {% endif %}{% set x = None %}{{ "none" if x is none else "not none" }}',
    );
    expect(python.render(hi)).toBe('default system. none');
    expect(python.render([{ role: 'system', content: 's' }, ...hi])).toBe('none');
  });

  it('prefers an explicit chatTemplate option over the model template', async () => {
    const files = tinyFiles();
    const tokenizer = await loadTokenizer(
      { ...files, config: { ...files.config, chat_template: CHATML_TEMPLATE } },
      { chatTemplate: '{{ messages | length }} messages' },
    );
    expect(tokenizer.applyChatTemplate(messages)).toBe('4 messages');
    for (const chatTemplate of [5, ['{{ x }}'], { default: 5 }]) {
      await expect(loadTokenizer(files, { chatTemplate } as never)).rejects.toThrow(
        /option "chatTemplate" must be a template string, or an object of templates by name/,
      );
    }
  });

  it('names the template and the file when there is no template', async () => {
    const tokenizer = await loadTokenizer(tinyFiles());
    expect(tokenizer.endOfTurn).toEqual({ tokenIds: [], stopStrings: [] });
    expect(() => tokenizer.applyChatTemplate(messages)).toThrow(ChatTemplateError);
    expect(() => tokenizer.applyChatTemplate(messages)).toThrow(
      'tokenizer_config.json (in memory): chat template "default": this tokenizer has no chat template',
    );
  });

  it('reports a template that raises or does not parse as a ChatTemplateError naming it and the file', async () => {
    const raising = new ChatTemplate(
      "{% if messages[0]['role'] != 'system' %}{{ raise_exception('the first message must be a system message') }}{% endif %}",
      { name: 'strict', file: 'models/x/tokenizer_config.json' },
    );
    expect(() => raising.render([{ role: 'user', content: 'hi' }])).toThrow(
      'models/x/tokenizer_config.json: chat template "strict": failed to render: the first message must be a system message',
    );
    const broken = new ChatTemplate('{% for m in messages %}{{ m.content }}', {
      file: 'chat_template.jinja',
    });
    const error = (() => {
      try {
        broken.render([{ role: 'user', content: 'hi' }]);
      } catch (e) {
        return e as ChatTemplateError;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ChatTemplateError);
    expect(error).toMatchObject({ code: 'TOKENIZER', template: 'default', file: 'chat_template.jinja' });
    expect(error?.message).toMatch(/^chat_template\.jinja: chat template "default": is not valid Jinja: /);
  });

  it('rejects messages without a role', () => {
    const template = new ChatTemplate(CHATML_TEMPLATE);
    expect(() => template.render([{ content: 'hi' } as unknown as ChatMessage])).toThrow(OptionError);
    expect(() => template.render([{ content: 'hi' } as unknown as ChatMessage])).toThrow(/messages\[0\]/);
  });
});
