import { Tokenizer as HfJsTokenizer } from '@huggingface/tokenizers';
import { type ChatTokenizer, OptionError } from '@treespec/core';
import {
  type ChatMessage,
  type ChatRenderOptions,
  ChatTemplate,
  pickTemplateName,
  readChatTemplates,
} from './chat-template.js';
import { ChatTemplateError, TokenIdError, TokenizerError } from './errors.js';
import { StreamingDetokenizer, type StreamingDetokenizerOptions } from './streaming-detokenizer.js';
import type { TemplateBudget } from './template-budget.js';
import type { ResolvedFiles } from './tokenizer-files.js';

/** Options of {@link HfTokenizer.encode}. */
export interface EncodeOptions {
  /** Add what the tokenizer's post-processor adds, e.g. BOS. Default true. */
  addSpecialTokens?: boolean;
}

/** Options of {@link HfTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, pad, chat markers). Default true. */
  skipSpecialTokens?: boolean;
}

/** Options of {@link HfTokenizer.applyChatTemplate} and {@link HfTokenizer.encodeChat}. */
export interface ApplyChatTemplateOptions extends ChatRenderOptions {
  /** Which named template to use, for tokenizers that carry several. */
  template?: string;
}

/** How a chat template ends an assistant turn, found by rendering a probe conversation. */
export interface EndOfTurn {
  /** Special tokens that end a turn (e.g. `<|im_end|>`, `<|eot_id|>`); also in `eosTokenIds`. */
  readonly tokenIds: readonly number[];
  /**
   * The end-of-turn marker as text when it is not a single special token of this tokenizer
   * (e.g. a ChatML template on a tokenizer without `<|im_end|>`): use it as a stop string.
   */
  readonly stopStrings: readonly string[];
}

/** Options of {@link HfTokenizer}'s constructor (and of `loadTokenizer`). */
export interface HfTokenizerOptions {
  /**
   * A chat template to use instead of the model's: one Jinja source, or named templates
   * (`{ default: '…', tool_use: '…' }`).
   */
  chatTemplate?: string | Readonly<Record<string, string>>;
  /** Limits on each chat-template render (time, string size, `range()` length). Defaults: 1 s, 4 MiB, 100 000 (`DEFAULT_TEMPLATE_BUDGET`). */
  templateBudget?: TemplateBudget;
}

const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

const PROBE = 'TreespecEndOfTurnProbe';

/**
 * A Hugging Face tokenizer (`tokenizer.json` + `tokenizer_config.json`) behind treespec's
 * {@link Tokenizer} contract, run by `@huggingface/tokenizers`. Encodes and decodes exactly as
 * the Python `tokenizers` library does, streams text without splitting characters, applies the
 * model's chat template, and knows its BOS, EOS and end-of-turn tokens.
 *
 * Create one with `loadTokenizer`. All methods are synchronous and may be called concurrently.
 */
export class HfTokenizer implements ChatTokenizer {
  /** Where the tokenizer came from (a path, a URL or a description), as error messages name it. */
  readonly file: string;
  /** Number of ids (largest id + 1), added and special tokens included. */
  readonly vocabSize: number;
  /** The BOS token's id from the config, or null when it names none. */
  readonly bosTokenId: number | null;
  /** The pad token's id from the config, or null when it names none. */
  readonly padTokenId: number | null;
  /**
   * Special token strings by name (`bos_token`, `eos_token`, …, from `tokenizer_config.json`
   * or `special_tokens_map.json`); chat templates see them as variables.
   */
  readonly specialTokens: Readonly<Record<string, string>>;
  /** True when decoding applies `transformers`' `clean_up_tokenization_spaces` (from the config). */
  readonly cleanUpTokenizationSpaces: boolean;
  /** Names of the chat templates this tokenizer carries ("default" when there is one). */
  readonly chatTemplateNames: readonly string[];

  private readonly hf: HfJsTokenizer;
  private readonly defined: Uint8Array;
  private readonly special: Uint8Array;
  private readonly addedTokens: readonly { content: string; id: number }[];
  private readonly additionalSpecialTokens: readonly string[];
  private readonly configEosIds: readonly number[];
  private readonly templates: Map<string, string>;
  private readonly templateFile: string;
  private readonly compiled = new Map<string, ChatTemplate>();
  private readonly templateBudget: TemplateBudget | undefined;
  private eos: readonly number[] | null = null;
  private endOfTurnCache: EndOfTurn | null = null;

  /** Builds a tokenizer from parsed files; `loadTokenizer` is the usual way to get one. */
  constructor(files: ResolvedFiles, options: HfTokenizerOptions = {}) {
    this.file = files.tokenizerName;
    this.templateBudget = options.templateBudget;
    const json = prepareTokenizerJson(files.tokenizer, files.tokenizerName);
    const config = files.config ?? {};
    const specialTokens = readSpecialTokens(config, files.specialTokensMap);
    this.specialTokens = specialTokens;
    this.cleanUpTokenizationSpaces = config['clean_up_tokenization_spaces'] === true;

    this.additionalSpecialTokens = readTokenList(
      config['additional_special_tokens'] ?? files.specialTokensMap?.['additional_special_tokens'],
    );
    const libConfig: Record<string, unknown> = {
      ...config,
      ...specialTokens,
      clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
      additional_special_tokens: this.additionalSpecialTokens,
    };
    try {
      this.hf = new HfJsTokenizer(json, libConfig);
    } catch (cause) {
      throw new TokenizerError(
        `is not a tokenizer @huggingface/tokenizers can load: ${(cause as Error).message}`,
        {
          file: files.tokenizerName,
          cause,
        },
      );
    }

    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    if (maxId < 0) throw new TokenizerError('has an empty vocabulary', { file: files.tokenizerName });
    this.vocabSize = maxId + 1;

    const specialContents = new Set<string>();
    const added: { content: string; id: number }[] = [];
    for (const token of json['added_tokens'] as { content: string; id: number; special?: boolean }[]) {
      added.push({ content: token.content, id: token.id });
      if (token.special) specialContents.add(token.content);
    }
    for (const content of this.additionalSpecialTokens) specialContents.add(content);
    this.addedTokens = added.sort((a, b) => b.content.length - a.content.length);

    this.defined = new Uint8Array(this.vocabSize);
    this.special = new Uint8Array(this.vocabSize);
    for (let id = 0; id < this.vocabSize; id++) {
      const token = this.hf.id_to_token(id);
      if (token === undefined) continue;
      this.defined[id] = 1;
      if (specialContents.has(token)) this.special[id] = 1;
    }

    const idOf = (content: string | undefined): number | null => {
      if (content === undefined) return null;
      const id = this.hf.token_to_id(content);
      return id === undefined ? null : id;
    };
    this.bosTokenId = idOf(specialTokens['bos_token']);
    this.padTokenId = idOf(specialTokens['pad_token']);
    const eosIds: number[] = [];
    const configEos = idOf(specialTokens['eos_token']);
    if (configEos !== null) eosIds.push(configEos);
    const generationEos = files.generationConfig?.['eos_token_id'];
    for (const id of Array.isArray(generationEos) ? generationEos : [generationEos]) {
      if (typeof id === 'number' && this.isDefined(id) && !eosIds.includes(id)) eosIds.push(id);
    }
    this.configEosIds = eosIds;

    const given = options.chatTemplate;
    const named =
      typeof given === 'object' &&
      given !== null &&
      !Array.isArray(given) &&
      Object.values(given).every((t) => typeof t === 'string');
    if (given !== undefined && typeof given !== 'string' && !named) {
      throw new OptionError('chatTemplate', given, 'a template string, or an object of templates by name');
    }
    if (given !== undefined) {
      this.templates =
        typeof given === 'string' ? new Map([['default', given]]) : new Map(Object.entries(given));
      this.templateFile = 'options.chatTemplate';
    } else if (files.chatTemplate !== null) {
      this.templates = new Map([['default', files.chatTemplate]]);
      this.templateFile = files.chatTemplateName;
    } else {
      this.templates = readChatTemplates(config['chat_template'], files.configName);
      this.templateFile = files.configName;
    }
    this.chatTemplateNames = [...this.templates.keys()];
  }

  /**
   * Ids that end a generation: the config's `eos_token`, every `eos_token_id` of
   * `generation_config.json`, and the chat template's end-of-turn tokens.
   */
  get eosTokenIds(): readonly number[] {
    if (this.eos === null) {
      const ids = [...this.configEosIds];
      for (const id of this.endOfTurn.tokenIds) if (!ids.includes(id)) ids.push(id);
      this.eos = ids;
    }
    return this.eos;
  }

  /**
   * How the default chat template ends an assistant turn. Found once by rendering a probe
   * conversation and looking at what follows the assistant's text; empty when there is no
   * template or it cannot render the probe.
   */
  get endOfTurn(): EndOfTurn {
    if (this.endOfTurnCache === null) this.endOfTurnCache = this.probeEndOfTurn();
    return this.endOfTurnCache;
  }

  /** Encodes text to ids; `addSpecialTokens` (default true) adds e.g. BOS as the tokenizer does. */
  encode(text: string, options: EncodeOptions = {}): Int32Array {
    if (typeof text !== 'string') {
      throw new TokenizerError(`encode() expects a string; got ${typeof text}`, { file: this.file });
    }
    const { ids } = this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number') {
        throw new TokenizerError(
          `cannot encode the text at token ${i}: no vocabulary entry and no unk_token to fall back on`,
          { file: this.file },
        );
      }
      out[i] = id;
    }
    return out;
  }

  /**
   * Decodes ids to text; `skipSpecialTokens` (default true) leaves special tokens out. Throws
   * {@link TokenIdError} for an id outside the vocabulary. `decode([])` is "".
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const list: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id, i);
      if (!(skip && this.special[id] === 1)) list.push(id);
    }
    return this.decodeUnchecked(list);
  }

  /**
   * A streaming decoder: feed it committed ids in chunks of any size and it returns text deltas
   * that never split a character; all deltas plus `flush()` equal `decode(all ids)`, or, with
   * `context`, the text those ids add after the context.
   */
  streamingDecoder(options: StreamingDetokenizerOptions = {}): StreamingDetokenizer {
    return new StreamingDetokenizer(this, options);
  }

  /** The id of a token string (e.g. "<s>"), or undefined when it has none. */
  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** The token string of an id (in the model's alphabet, e.g. "Ġworld"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.isDefined(id) ? this.hf.id_to_token(id) : undefined;
  }

  /** True for ids that `skipSpecialTokens` leaves out. */
  isSpecialToken(id: number): boolean {
    return this.isDefined(id) && this.special[id] === 1;
  }

  /**
   * Renders chat messages with the model's chat template to the prompt text. Pass
   * `addGenerationPrompt: true` to end it with the header of the assistant's answer.
   * Throws {@link ChatTemplateError} when there is no template or it fails.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string {
    return this.chatTemplate(options.template, options.tools !== undefined).render(messages, options);
  }

  /**
   * Renders chat messages and encodes the text without adding special tokens (the template
   * writes BOS itself when the model wants one), as `transformers` does: the prompt ids for
   * `treespec generate --chat`.
   */
  encodeChat(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): Int32Array {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }

  /** The named chat template (default: as `transformers` picks it). */
  chatTemplate(name?: string, hasTools = false): ChatTemplate {
    const picked = pickTemplateName(this.chatTemplateNames, name, hasTools, this.templateFile);
    let template = this.compiled.get(picked);
    if (!template) {
      template = new ChatTemplate(this.templates.get(picked)!, {
        name: picked,
        file: this.templateFile,
        specialTokens: {
          ...this.specialTokens,
          additional_special_tokens: this.additionalSpecialTokens,
        },
        ...(this.templateBudget ? { budget: this.templateBudget } : {}),
      });
      this.compiled.set(picked, template);
    }
    return template;
  }

  /**
   * Decodes ids that are known to be valid, with no special-token filtering. For the streaming
   * decoder; `decode` is the checked entry point.
   * @internal
   */
  decodeUnchecked(ids: number[]): string {
    if (ids.length === 0) return '';
    return this.hf.decode(ids, {
      skip_special_tokens: false,
      clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
    });
  }

  /** Throws {@link TokenIdError} for the first id that is not a defined id. */
  checkIds(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], i);
  }

  /**
   * Throws {@link TokenIdError} unless `id` is a defined id; `position` is its index in the
   * caller's array.
   */
  checkId(id: number, position: number): void {
    if (!this.isDefined(id)) throw new TokenIdError(id, position, this.vocabSize, this.file);
  }

  private isDefined(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.defined[id] === 1;
  }

  private probeEndOfTurn(): EndOfTurn {
    const none: EndOfTurn = { tokenIds: [], stopStrings: [] };
    if (this.chatTemplateNames.length === 0) return none;
    let template: ChatTemplate;
    try {
      template = this.chatTemplate();
    } catch (error) {
      if (error instanceof ChatTemplateError) return none;
      throw error;
    }
    const conversations: ChatMessage[][] = [
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: PROBE },
      ],
      [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: PROBE },
      ],
    ];
    for (const messages of conversations) {
      let text: string;
      try {
        text = template.render(messages);
      } catch {
        continue;
      }
      const at = text.lastIndexOf(PROBE);
      if (at < 0) continue;
      const after = text.slice(at + PROBE.length).trimStart();
      for (const token of this.addedTokens) {
        if (token.content.length > 0 && after.startsWith(token.content)) {
          return { tokenIds: [token.id], stopStrings: [] };
        }
      }
      const marker = /^\S+/.exec(after)?.[0];
      return marker ? { tokenIds: [], stopStrings: [marker] } : none;
    }
    return none;
  }
}

/** Checks the parts of tokenizer.json the library relies on and fills optional ones. */
function prepareTokenizerJson(json: Record<string, unknown>, file: string): Record<string, unknown> {
  const model = json['model'];
  if (model === null || typeof model !== 'object' || Array.isArray(model)) {
    throw new TokenizerError('is not a Hugging Face tokenizer.json: expected a "model" object', { file });
  }
  const added = json['added_tokens'] ?? [];
  if (!Array.isArray(added)) {
    throw new TokenizerError('"added_tokens" must be a list', { file });
  }
  for (let i = 0; i < added.length; i++) {
    const token = added[i] as { id?: unknown; content?: unknown } | null;
    if (!token || !Number.isInteger(token.id) || typeof token.content !== 'string') {
      throw new TokenizerError(`added_tokens[${i}] must have an integer "id" and a string "content"`, {
        file,
      });
    }
  }
  return {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    ...json,
    added_tokens: added,
  };
}

/** A special token in a config: a string or an AddedToken object `{ content }`. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

function readTokenList(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const out: string[] = [];
  for (const entry of value) {
    const content = tokenContent(entry);
    if (content !== undefined) out.push(content);
  }
  return out;
}

function readSpecialTokens(
  config: Record<string, unknown>,
  map: Record<string, unknown> | null,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const content = tokenContent(config[key]) ?? tokenContent(map?.[key]);
    if (content !== undefined) out[key] = content;
  }
  return out;
}
