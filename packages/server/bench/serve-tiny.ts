import { parseArgs } from 'node:util';
import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { type BundleDrafter, loadTreespec } from '@treespec/node';
import { createServer } from '../src/index.js';

/**
 * The benchmarks' server process: the tiny bundle on 127.0.0.1, an ephemeral port, printed as
 * `listening <url>`. `--queue N` bounds the waiting requests; `--drafters a,b` loads those drafters
 * besides the default one, for requests that name them; `--no-tuning-cache` leaves stored
 * `treespec tune` results out, as `treespec bench` does by default in its docs.
 */
const { values } = parseArgs({
  options: {
    queue: { type: 'string', default: '64' },
    drafters: { type: 'string', default: '' },
    'no-tuning-cache': { type: 'boolean', default: false },
  },
});
const drafters = values.drafters.split(',').filter(Boolean) as BundleDrafter[];
const generator = await loadTreespec(tinyModelDirectory(), {
  drafters,
  ...(values['no-tuning-cache'] ? { tuningCache: false as const } : {}),
});
const server = createServer(generator, { modelId: 'tiny', maxQueue: Number(values.queue) });
const url = await server.listen({ port: 0 });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', async () => {
  await server.close();
  await generator.dispose();
  process.exit(0);
});
