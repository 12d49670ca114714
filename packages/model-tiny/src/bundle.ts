/** Name of the converted bundle's directory inside the package (`models/tiny`). */
export const TINY_BUNDLE = 'tiny';

/** Manifest ids of the three converted models of the bundle. */
export const TINY_MODEL_IDS = {
  /** treespec-tiny: Llama, 8 layers x 384, GQA 6/2, vocab 8192. */
  target: 'target',
  /** treespec-tiny-eagle2: the EAGLE-2 head trained for the target. */
  eagleHead: 'eagle-head',
  /** treespec-tiny-draft: an independent 3 x 192 Llama with the same tokenizer. */
  draft: 'draft',
} as const;

/** One of {@link TINY_MODEL_IDS}' values. */
export type TinyModelId = (typeof TINY_MODEL_IDS)[keyof typeof TINY_MODEL_IDS];
