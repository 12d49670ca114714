import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/**
 * Runs `body` in a fresh Node process that sees no onnxruntime-node: working directory outside the
 * repository and no NODE_PATH (pnpm's scripts point it at the store's hoisted packages).
 */
function runAlone(body: string): unknown {
  const { NODE_PATH: _, ...env } = process.env;
  const script = `import * as loader from ${JSON.stringify(dist)};\n${body}`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: tmpdir(), env });
  return JSON.parse(out.toString());
}

describe('loadOnnxRuntime without onnxruntime-node installed', () => {
  it('says how to install it, loads nothing, and leaves the bundled runtime available', () => {
    const result = runAlone(`
      let error;
      try { loader.loadOnnxRuntime('onnxruntime-node'); } catch (e) { error = e; }
      const afterwards = loader.loadedOnnxRuntime();
      const bundled = process.platform === 'linux' && process.arch === 'x64' ? loader.loadOnnxRuntime().source : 'bundled';
      console.log(JSON.stringify({
        typed: error instanceof loader.OnnxRuntimeUnavailableError,
        code: error?.code, source: error?.source, message: error?.message, afterwards, bundled,
      }));
    `);
    expect(result).toMatchObject({
      typed: true,
      code: 'RUNTIME_UNAVAILABLE',
      source: 'onnxruntime-node',
      bundled: 'bundled',
    });
    expect((result as { afterwards?: unknown }).afterwards).toBeUndefined();
    expect((result as { message: string }).message).toMatch(
      /onnxruntime-node is not installed.*`npm install onnxruntime-node@1\.30\.0`.*`ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node@1\.30\.0`/,
    );
  });
});
