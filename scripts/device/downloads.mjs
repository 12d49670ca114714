// What each output a call brings to the host costs on a provider: the in-memory copy graphs (one
// Identity and one output, `logitsCopyModel`; two and two, `weightsCopyModel`) run with their
// outputs fetched to the host, against the same graphs with their outputs left on the device;
// interleaved, medians of 300 runs.
// Usage: node scripts/device/downloads.mjs REPO PROVIDER
// REPO: a built checkout or an unpacked scripts/offline-kit.sh runtime ($KIT/repo); PROVIDER: cpu
// or webgpu.
import { join } from 'node:path';
import { median } from './interleaved.mjs';

const [repo, provider] = process.argv.slice(2);
const onnx = await import(join(repo, 'packages/onnx/dist/index.js'));
const { loadOnnxRuntime } = await import(join(repo, 'packages/onnxruntime/dist/index.js'));
const ort = await loadOnnxRuntime();
const vocab = 8192;
const rows = 8;
const T = (data, dims) => new ort.Tensor('float32', data, dims);
const graphs = [
  {
    label: '1 output ([8, 8192])',
    model: onnx.logitsCopyModel(vocab),
    feeds: { [onnx.LOGITS_COPY_NAMES.deviceLogits]: T(new Float32Array(rows * vocab), [1, rows, vocab]) },
  },
  {
    label: '2 outputs ([8, 8192], [8])',
    model: onnx.weightsCopyModel(vocab),
    feeds: {
      [onnx.WEIGHTS_COPY_NAMES.deviceWeights]: T(new Float32Array(rows * vocab), [1, rows, vocab]),
      [onnx.WEIGHTS_COPY_NAMES.deviceMass]: T(new Float32Array(rows), [1, rows]),
    },
  },
];
for (const graph of graphs) {
  const probe = await ort.InferenceSession.create(graph.model, { executionProviders: ['cpu'] });
  const names = probe.outputNames;
  graph.names = names;
  graph.host = await ort.InferenceSession.create(graph.model, { executionProviders: [provider] });
  graph.device =
    provider === 'cpu'
      ? graph.host
      : await ort.InferenceSession.create(graph.model, {
          executionProviders: [provider],
          preferredOutputLocation: Object.fromEntries(names.map((n) => [n, 'gpu-buffer'])),
        });
  graph.times = { host: [], device: [] };
}
for (let i = 0; i < 300; i++)
  for (const graph of graphs)
    for (const where of ['host', 'device']) {
      const t0 = performance.now();
      const out = await graph[where].run(graph.feeds, graph.names);
      graph.times[where].push(performance.now() - t0);
      for (const tensor of Object.values(out)) tensor.dispose?.();
    }
for (const graph of graphs)
  console.log(
    `${graph.label}: to the host ${median(graph.times.host.slice(30)).toFixed(3)} ms, left on the device ${median(graph.times.device.slice(30)).toFixed(3)} ms`,
  );
