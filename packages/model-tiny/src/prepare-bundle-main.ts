// Run by tinyModelDirectory() in a child process (it is synchronous): `node prepare-bundle-main.js <out>`
// converts the package's packed checkpoints into the bundle folder <out>.
import { fileURLToPath } from 'node:url';
import { preparePackedBundle } from './packed-bundle.js';

const out = process.argv[2];
if (!out) throw new Error('usage: node prepare-bundle-main.js <bundle folder>');
preparePackedBundle(fileURLToPath(new URL('../', import.meta.url)), out).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
