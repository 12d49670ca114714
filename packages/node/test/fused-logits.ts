import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The logits of one verification of `rows` chained rows after a 16-token prefill, by the target of
 * the bundle in `dir` on `provider`, computed in a child process. Lavapipe compiles the fused
 * attention's WebGPU shaders at the first call, and with Mesa's shader cache cold (a fresh CI
 * machine) that takes 40 s and more inside one synchronous ONNX Runtime call: in the test's own
 * process it would hold vitest's worker past its 60 s RPC timeout.
 */
export async function fusedLogits(
  dir: string,
  provider: 'cpu' | 'webgpu',
  rows: number,
): Promise<Float32Array> {
  const out = join(dir, `logits-${provider}-${rows}.f32`);
  await run(
    process.execPath,
    [fileURLToPath(new URL('fused-logits-child.mjs', import.meta.url)), dir, provider, String(rows), out],
    {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    },
  );
  const bytes = await readFile(out);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}
