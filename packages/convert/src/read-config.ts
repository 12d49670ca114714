import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from './errors.js';

/** Reads and JSON-decodes `<directory>/config.json`; returns it with its path. */
export async function readConfigJson(directory: string): Promise<{ json: unknown; file: string }> {
  const file = join(directory, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new CheckpointError('missing-file', file, `cannot read config.json: ${(cause as Error).message}`, {
      cause,
    });
  }
  try {
    return { json: JSON.parse(text), file };
  } catch (cause) {
    throw new CheckpointError('bad-config', file, `not valid JSON (${(cause as Error).message})`, { cause });
  }
}
