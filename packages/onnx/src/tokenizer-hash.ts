import { ModelFormatError } from '@treespec/core';
import type { ManifestModel } from './manifest-schema.js';

/** Hex sha256 of `bytes` (Web Crypto: Node 20 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>),
  );
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/**
 * Checks that `tokenizerJson` (the bytes of the bundle's tokenizer.json at `file`) is the one the
 * model was converted with: a swapped or edited tokenizer decodes to wrong text silently.
 * @throws ModelFormatError naming `file`, the manifest field and both hashes.
 */
export async function checkTokenizerHash(
  tokenizerJson: Uint8Array,
  model: ManifestModel,
  file: string,
): Promise<void> {
  const found = await sha256Hex(tokenizerJson);
  if (found !== model.tokenizer.sha256) {
    throw new ModelFormatError(
      `the tokenizer's sha256 is ${found}, but the manifest's tokenizer.sha256 for model "${model.id}" ` +
        `is ${model.tokenizer.sha256}: the tokenizer file was changed or belongs to another model`,
      { file, code: 'MODEL_MISMATCH' },
    );
  }
}
