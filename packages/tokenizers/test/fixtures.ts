import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type HfTokenizer, loadTokenizer, type TokenizerFiles } from '../src/index.js';

/** The tiny model's checkpoint folder (tokenizer.json, tokenizer_config.json, test vectors …). */
export const TINY_DIR = fileURLToPath(
  new URL('../../model-tiny/checkpoints/treespec-tiny/', import.meta.url),
);

export function readTinyJson<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(`${TINY_DIR}${name}`, 'utf8')) as T;
}

let tiny: Promise<HfTokenizer> | null = null;
/** The tiny model's byte-level BPE tokenizer, loaded from its files once per test file. */
export function tinyTokenizer(): Promise<HfTokenizer> {
  tiny ??= loadTokenizer(tinyFileBlobs());
  return tiny;
}

/** The tiny tokenizer's files as `File`s named by their paths, as `@treespec/node` reads them. */
export function tinyFileBlobs(): TokenizerFiles {
  const file = (name: string) => new File([readFileSync(`${TINY_DIR}${name}`)], `${TINY_DIR}${name}`);
  return {
    tokenizer: file('tokenizer.json'),
    config: file('tokenizer_config.json'),
    generationConfig: file('generation_config.json'),
  };
}

/** The tiny tokenizer's files in memory, to load variants of it. */
export function tinyFiles(): {
  tokenizer: Record<string, unknown>;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
} {
  return {
    tokenizer: readTinyJson('tokenizer.json'),
    config: readTinyJson('tokenizer_config.json'),
    generationConfig: readTinyJson('generation_config.json'),
  };
}

/** A ChatML-style template, written here so the tests do not depend on a model's. */
export const CHATML_TEMPLATE =
  '{{ bos_token }}{% for message in messages %}' +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * A Llama-2-style SentencePiece tokenizer: BPE with byte fallback (characters outside the
 * vocabulary become `<0xNN>` byte tokens), "▁" for spaces, and the decoder
 * Replace("▁"→" ") · ByteFallback · Fuse · Strip(1 leading space). With `metaspace`, the decoder
 * is a Metaspace decoder instead (which drops the first token's leading space).
 */
export function sentencePieceTokenizerJson(options: { metaspace?: boolean } = {}): Record<string, unknown> {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const pieces = [
    '▁',
    ...'abcdefghijklmnopqrstuvwxyzTH.,!?',
    '▁t',
    'he',
    '▁the',
    '▁a',
    'in',
    '▁in',
    '日',
    '本',
  ];
  for (const piece of pieces) vocab[piece] = Object.keys(vocab).length;
  const merges = ['▁ t', 'h e', '▁t he', '▁ a', 'i n', '▁ in'];
  const decoder = options.metaspace
    ? { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false }
    : {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<unk>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 1,
        content: '<s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 2,
        content: '</s>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** Texts with multi-byte characters (2-, 3- and 4-byte UTF-8, surrogate pairs, ZWJ sequences). */
export const MULTIBYTE_TEXTS = [
  'Unicode: café, naïve, Straße, Ελληνικά, 日本語, 🤖🚀, ½ → ∞',
  '東京は日本の首都です。漢字とかなカナ',
  'family 👨‍👩‍👧‍👦 flag 🇯🇵 skin 👍🏽 done',
  '\u00a0non-breaking\u2009thin\u200bzero-width',
  'mixed: a😀b日c\n\td€e𝄞f',
];
