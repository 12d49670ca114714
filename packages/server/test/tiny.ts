import { link, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TOKENIZER_FILE_NAMES } from '@treespec/core';
import type { TextGenerator } from '@treespec/generator';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';

/**
 * The embedded tiny bundle (its default drafter, the hybrid over the EAGLE-2 head, and EAGLE-2 by
 * name; its plain-text chat template), drafting its whole budget every step: these tests check
 * what the server reports of speculation, which a budget controller's timing-driven choices (a
 * short answer decoded plainly) would make machine-dependent.
 */
export function loadTinyGenerator(): Promise<TextGenerator> {
  return loadTreespec(tinyModelDirectory(), { budget: 'fixed', drafters: ['eagle2'] });
}

/**
 * The tiny bundle without its chat template, as a model whose tokenizer has none: its files hard-
 * linked into a folder beside it (so nothing large is copied), the template file left out of the
 * folder and of the manifest. `remove` deletes the folder.
 */
export async function tinyWithoutChatTemplate(): Promise<{ directory: string; remove: () => Promise<void> }> {
  const source = tinyModelDirectory();
  const directory = await mkdtemp(join(dirname(source), '.no-chat-template-'));
  const template = TOKENIZER_FILE_NAMES.chatTemplate;
  for (const name of await readdir(source)) {
    if (name === template || name === 'treespec.json') continue;
    await link(join(source, name), join(directory, name));
  }
  const manifest = JSON.parse(await readFile(join(source, 'treespec.json'), 'utf8')) as {
    models: Array<{ tokenizer: { files: string[] } }>;
  };
  for (const model of manifest.models) {
    model.tokenizer.files = model.tokenizer.files.filter((file) => file !== template);
  }
  await writeFile(join(directory, 'treespec.json'), JSON.stringify(manifest));
  return { directory, remove: () => rm(directory, { recursive: true, force: true }) };
}
