import { copyFileSync, linkSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Fills `dir` with `source`'s files as hard links (no copying of weights), falling back to copies
 * across file systems. Returns how to replace one of them: the link is unlinked first, so the
 * original is never written to.
 */
export function linkedCopy(source: string, dir: string): (name: string, bytes: Uint8Array | string) => void {
  for (const name of readdirSync(source)) {
    try {
      linkSync(join(source, name), join(dir, name));
    } catch {
      copyFileSync(join(source, name), join(dir, name));
    }
  }
  return (name, bytes) => {
    unlinkSync(join(dir, name));
    writeFileSync(join(dir, name), bytes);
  };
}
