import { tinyModelDirectory } from '@treespec/model-tiny/node';
import { loadTreespec } from '@treespec/node';
import { createServer } from '../src/index.js';

/** The load test's server process: the tiny bundle on 127.0.0.1, an ephemeral port, printed as `listening <url>`. */
const generator = await loadTreespec(tinyModelDirectory());
const server = createServer(generator, { modelId: 'tiny', maxQueue: Number(process.argv[2] ?? 64) });
const url = await server.listen({ port: 0 });
process.stdout.write(`listening ${url}\n`);
process.on('SIGTERM', async () => {
  await server.close();
  await generator.dispose();
  process.exit(0);
});
