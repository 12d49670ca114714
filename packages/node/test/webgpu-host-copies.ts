import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Opens the model at argv[1] on WebGPU with ONNX Runtime's verbose log on (it goes to stdout). */
const OPEN_VERBOSE = `
import { loadOnnxRuntime } from '@treespec/onnxruntime';
const ort = loadOnnxRuntime();
ort.env.logLevel = 'verbose';
const session = await ort.createSession(process.argv[1], {
  executionProviders: ['webgpu'],
  logSeverityLevel: 0,
});
await session.release();
`;

/**
 * The copies ONNX Runtime inserts between the host and the WebGPU device when it opens the model
 * at `modelPath`, as its log names them (`MemcpyFromHost after ids`, `MemcpyToHost before
 * TopK_1`): one for each value that a node placed on one side reads from the other. Every copy
 * inside a call makes the call wait on the device's queue. Opened in a child process, whose native
 * log this process cannot otherwise read.
 */
export async function webGpuHostCopies(modelPath: string): Promise<string[]> {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--input-type=module', '-e', OPEN_VERBOSE, modelPath],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 64 << 20 },
  );
  return [...`${stdout}\n${stderr}`.matchAll(/AddCopyNode\] Add (Memcpy\w+ (?:after|before) \S+) for/g)].map(
    (m) => m[1]!,
  );
}
