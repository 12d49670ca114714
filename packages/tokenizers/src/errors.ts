import { TreespecError } from '@treespec/core';

/**
 * A tokenizer that cannot be loaded or used: a missing or malformed file, a token id outside
 * the vocabulary, a chat template that fails. `code` is always `'TOKENIZER'`; `file` names the
 * file (path or URL) when one is involved, and the message starts with it.
 */
export class TokenizerError extends TreespecError {
  /** The file the error is about (path, URL or a description such as "tokenizer.json (object)"). */
  readonly file: string | undefined;

  constructor(message: string, options?: { file?: string; cause?: unknown }) {
    super('TOKENIZER', options?.file ? `${options.file}: ${message}` : message, options);
    this.file = options?.file;
  }
}

/** A token id that is not an integer in the tokenizer's vocabulary. */
export class TokenIdError extends TokenizerError {
  /** The offending value as given. */
  readonly id: unknown;
  /** Its index in the array that was passed. */
  readonly position: number;

  constructor(id: unknown, position: number, vocabSize: number, file?: string) {
    super(
      `token id ${describeId(id)} at position ${position} is not in the vocabulary: expected an integer id ` +
        `in [0, ${vocabSize}) that the tokenizer defines`,
      file === undefined ? undefined : { file },
    );
    this.id = id;
    this.position = position;
  }
}

/** A chat template that is missing, does not parse, or throws while rendering. */
export class ChatTemplateError extends TokenizerError {
  /** The template's name ("default" unless the tokenizer has several). */
  readonly template: string;

  constructor(template: string, message: string, options?: { file?: string; cause?: unknown }) {
    super(`chat template "${template}": ${message}`, options);
    this.template = template;
  }
}

function describeId(id: unknown): string {
  if (typeof id === 'number' || typeof id === 'bigint') return String(id);
  if (typeof id === 'string') return JSON.stringify(id);
  return String(id);
}
