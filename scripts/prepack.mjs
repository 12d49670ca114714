// `prepack` of every public package (pnpm pack / npm publish run it in the package's folder):
// builds the package and its workspace dependencies, so packing an unbuilt clone ships a full
// dist/, and copies the repository's LICENSE into the package (npm always packs a LICENSE file).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const { name } = JSON.parse(readFileSync('package.json', 'utf8'));
execFileSync(
  join(root, 'node_modules', '.bin', 'turbo'),
  ['run', 'build', `--filter=${name}...`, '--output-logs=errors-only'],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } },
);
copyFileSync(join(root, 'LICENSE'), 'LICENSE');
