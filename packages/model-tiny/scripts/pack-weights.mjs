// Build step: packs the checkpoints the npm package ships into weights/<name>.planes (planar bf16,
// which npm's gzip compresses about a third better than safetensors; src/planar-weights.ts). The
// published package holds these instead of the checkpoints' model.safetensors.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKED_CHECKPOINTS, packPlanarWeights, planarWeightsFile, WEIGHTS_FOLDER } from '../dist/packing.js';

const root = fileURLToPath(new URL('../', import.meta.url));
await mkdir(join(root, WEIGHTS_FOLDER), { recursive: true });
for (const [name, shared] of Object.entries(PACKED_CHECKPOINTS)) {
  const source = join(root, 'checkpoints', name, 'model.safetensors');
  const planar = packPlanarWeights(await readFile(source), shared, source);
  await writeFile(join(root, WEIGHTS_FOLDER, planarWeightsFile(name)), planar);
}
console.log(`packed ${Object.keys(PACKED_CHECKPOINTS).join(', ')} into ${WEIGHTS_FOLDER}/`);
