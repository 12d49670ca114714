/** Name of the converted bundle's directory inside the package (`models/tiny`). */
export const TINY_BUNDLE = 'tiny';

/**
 * Manifest ids of the converted models of the bundle, in manifest order. Loaders that take the
 * first model of a role get the int8 EAGLE head with a reduced draft vocabulary and context
 * tokens, and the int8 draft LM (the faster ones on CPUs).
 */
export const TINY_MODEL_IDS = {
  /** treespec-tiny: Llama, 8 layers x 384, GQA 6/2, vocab 8192 (fp32). */
  target: 'target',
  /**
   * treespec-tiny-eagle2, int8, scoring the 1024 tokens the target generates most often plus up to
   * 256 tokens of the generation's own context (FR-Spec with context tokens): the default head,
   * first in the manifest. Greedy drafts as good as the full head's, head calls about 40 % cheaper
   * (docs/benchmarks.md).
   */
  eagleHeadContext: 'eagle-head-context',
  /** treespec-tiny-eagle2: the EAGLE-2 head trained for the target over the whole vocabulary, int8 linear layers (MatMulNBits). */
  eagleHead: 'eagle-head',
  /** The same head with fp32 weights: reproduces the PyTorch test vectors. */
  eagleHeadFp32: 'eagle-head-fp32',
  /**
   * treespec-tiny-eagle3: an EAGLE-3 head for the target (draft vocabulary 2048, fused inputs of
   * target layers 2, 4, 5), fp32; briefly trained, so it pins down the format, not speed-ups.
   */
  eagle3Head: 'eagle3-head',
  /** treespec-tiny-draft: an independent 3 x 192 Llama with the same tokenizer, int8 linear layers (MatMulNBits); the default draft LM. */
  draftInt8: 'draft-int8',
  /** The draft LM with fp32 weights: reproduces the PyTorch test vectors. */
  draft: 'draft',
} as const;

/** Draft vocabulary of the default head: the K most frequent tokens and the most context tokens it also scores. */
export const TINY_HEAD_DRAFT_VOCAB = { size: 1024, contextTokens: 256 } as const;

/** The token counts of text the tiny target generated (FR-Spec), beside the checkpoints. */
export const TINY_TOKEN_FREQUENCIES = 'treespec-tiny-generated-frequencies.json';

/** One of {@link TINY_MODEL_IDS}' values. */
export type TinyModelId = (typeof TINY_MODEL_IDS)[keyof typeof TINY_MODEL_IDS];

/**
 * The bundle's chat template. treespec-tiny is a base model trained on plain text, so a chat is
 * written as plain text too: the messages' contents, one paragraph each, after the BOS token
 * (a ChatML-style turn would make it end its answer at once). The converter writes it into the
 * bundle as chat_template.jinja, so `generate(messages)` and the server's chat completions work.
 */
export const TINY_CHAT_TEMPLATE =
  '{{ bos_token }}{% for m in messages %}{{ m.content }}{% if not loop.last %}\n\n{% endif %}{% endfor %}';
