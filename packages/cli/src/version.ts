import { readFileSync } from 'node:fs';

/** The version of `@treespec/cli`, read from its package.json (`treespec --version`). */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
