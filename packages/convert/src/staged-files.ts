import { rename, rm, writeFile } from 'node:fs/promises';
import { pathExists } from './path-exists.js';

/** Suffix of a bundle's files while they are written; they take their names once complete. */
export const PARTIAL = '.partial';

/** Suffix of a bundle file set aside while a conversion's files take their names. */
const PREVIOUS = '.previous';

/**
 * The files of one conversion, each written complete under a temporary name ({@link PARTIAL})
 * before any takes its own: a conversion that fails while writing, or whose manifest turns out
 * invalid, leaves the bundle as it was. {@link StagedFiles.commit} then renames them in the order
 * they were staged (the manifest last), setting aside each file they replace until all are in
 * place; where a rename fails, the files set aside return.
 */
export class StagedFiles {
  /** Temporary and final paths, in order; a null temporary path removes the final file. */
  private readonly moves: [string | null, string][] = [];

  /** Writes `content` under `path`'s temporary name, to take `path` at the commit. */
  async write(path: string, content: Uint8Array | string): Promise<void> {
    this.moves.push([path + PARTIAL, path]);
    await writeFile(path + PARTIAL, content);
  }

  /** Stages a file already written complete at `temporary`, to take `path` at the commit. */
  add(temporary: string, path: string): void {
    this.moves.push([temporary, path]);
  }

  /** Removes `path` at the commit (a file the new model no longer has). */
  remove(path: string): void {
    this.moves.push([null, path]);
  }

  /** Gives every staged file its name; where one cannot take it, undoes the others and throws. */
  async commit(): Promise<void> {
    const done: { path: string; previous: string | null }[] = [];
    try {
      for (const [temporary, path] of this.moves) {
        const previous = (await pathExists(path)) ? path + PREVIOUS : null;
        if (previous) await rename(path, previous);
        done.push({ path, previous });
        if (temporary) await rename(temporary, path);
      }
    } catch (error) {
      for (const { path, previous } of done.reverse()) {
        await rm(path, { force: true }).catch(() => undefined);
        if (previous) await rename(previous, path).catch(() => undefined);
      }
      await this.discard();
      throw error;
    }
    for (const { previous } of done) if (previous) await rm(previous, { force: true });
  }

  /** Deletes every staged file that has not taken its name. */
  async discard(): Promise<void> {
    await Promise.all(
      this.moves.map(([temporary]) => (temporary ? rm(temporary, { force: true }) : undefined)),
    );
  }
}
