import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
const dir = '/work/main/packages/model-tiny/models/tiny';
const which = process.argv[2] ?? 'target';
const N = Number(process.argv[3] ?? 1);
const P = 100;
const s = await ort.InferenceSession.create(`${dir}/${which}.onnx`, { intraOpNumThreads: 2, interOpNumThreads: 1, enableProfiling: true, profileFilePrefix: '/tmp/prof' });
const L = which === 'target' ? 8 : 1;
const f = {
  input_ids: new ort.Tensor('int64', new BigInt64Array(N).fill(5n), [1, N]),
  position_ids: new ort.Tensor('int64', BigInt64Array.from({length:N}, (_, i) => BigInt(P + i)), [1, N]),
  attention_bias: new ort.Tensor('float32', new Float32Array(N * (P + N)), [1, 1, N, P + N]),
};
if (which !== 'target') { f.feature = new ort.Tensor('float32', new Float32Array(N*384), [1,N,384]); f.top_k = new ort.Tensor('int64', BigInt64Array.from([8n]), [1]); }
for (let l = 0; l < L; l++) {
  f[`past_key.${l}`] = new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]);
  f[`past_value.${l}`] = new ort.Tensor('float32', new Float32Array(P * 128), [1, P, 2, 64]);
}
for (let i = 0; i < 30; i++) await s.run(f);
s.endProfiling(); await s.release();
const file = readdirSync('/tmp').filter((n) => n.startsWith('prof') && n.endsWith('.json')).map((n) => '/tmp/' + n)[0];
const ev = JSON.parse(readFileSync(file, 'utf8'));
const byOp = new Map(); let runs = 0; let total = 0; let nodes = 0;
for (const e of ev) {
  if (e.cat === 'Session' && e.name === 'model_run') { runs++; total += e.dur; }
  if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
    const op = e.args.op_name; const r = byOp.get(op) ?? { t: 0, n: 0 }; r.t += e.dur; r.n++; byOp.set(op, r); nodes++;
  }
}
console.log(`${which} N=${N}: runs ${runs}, mean run ${(total/runs/1000).toFixed(2)} ms, kernels/run ${(nodes/runs).toFixed(0)}`);
const rows = [...byOp.entries()].sort((a, b) => b[1].t - a[1].t);
let kt = 0; for (const [, r] of rows) kt += r.t;
console.log(`kernel time/run ${(kt/runs/1000).toFixed(2)} ms`);
for (const [op, r] of rows.slice(0, 14)) console.log(`  ${op.padEnd(28)} ${(r.t / runs / 1000).toFixed(3)} ms  x${(r.n / runs).toFixed(0)}`);
unlinkSync(file);
