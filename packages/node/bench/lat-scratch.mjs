import { createSession } from '../dist/index.js';
import * as ort from 'onnxruntime-node';
const dir = '/work/main/packages/model-tiny/models/tiny';
const threads = Number(process.argv[2] ?? 2);
const s = await createSession(dir + '/target.onnx', { intraOpNumThreads: threads });
function feeds(N, P) {
  const f = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(N).fill(5n), [1, N]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({length:N}, (_, i) => BigInt(P + i)), [1, N]),
    attention_bias: new ort.Tensor('float32', new Float32Array(N * (P + N)), [1, 1, N, P + N]),
  };
  for (let l = 0; l < 8; l++) {
    f[`past_key.${l}`] = new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]);
    f[`past_value.${l}`] = new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]);
  }
  return f;
}
const fetch = ['logits', ...Array.from({length:8},(_, l)=>`present_key.${l}`), ...Array.from({length:8},(_, l)=>`present_value.${l}`)];
for (const P of [100, 1000]) for (const N of [1, 2, 4, 8, 16, 32, 64]) {
  const f = feeds(N, P);
  for (let i = 0; i < 3; i++) await s.run(f, fetch);
  const t = [];
  for (let i = 0; i < 15; i++) { const t0 = performance.now(); await s.run(f, fetch); t.push(performance.now() - t0); }
  t.sort((a,b)=>a-b);
  console.log(`target P=${P} N=${N} median ${t[7].toFixed(2)} ms`);
}
const h = await createSession(dir + '/eagle-head.onnx', { intraOpNumThreads: threads });
for (const P of [100, 1000]) for (const N of [1, 4, 8, 16]) {
  const f = {
    input_ids: new ort.Tensor('int64', new BigInt64Array(N).fill(5n), [1, N]),
    feature: new ort.Tensor('float32', new Float32Array(N*384), [1, N, 384]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({length:N}, (_, i) => BigInt(P + i)), [1, N]),
    attention_bias: new ort.Tensor('float32', new Float32Array(N * (P + N)), [1, 1, N, P + N]),
    'past_key.0': new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]),
    'past_value.0': new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]),
    top_k: new ort.Tensor('int64', BigInt64Array.from([8n]), [1]),
  };
  const hf = ['hidden','top_log_probs','top_ids','present_key.0','present_value.0'];
  for (let i = 0; i < 3; i++) await h.run(f, hf);
  const t = [];
  for (let i = 0; i < 15; i++) { const t0 = performance.now(); await h.run(f, hf); t.push(performance.now() - t0); }
  t.sort((a,b)=>a-b);
  console.log(`head P=${P} N=${N} median ${t[7].toFixed(2)} ms`);
}
