import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** A model of one Identity node (x: float[1] → y), serialised. */
const IDENTITY_MODEL =
  'CAg6NwoQCgF4EgF5IghJZGVudGl0eRIBZ1oPCgF4EgoKCAgBEgQKAggBYg8KAXkSCgoICAESBAoCCAFCBAoAEBE=';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * Opens and runs a session on the bundled runtime in a fresh Node process whose temporary folder is
 * a new empty one; returns the variable as the process saw it and what the folder holds afterwards.
 */
function openSessionAlone(telemetry: string | undefined): { variable: string | null; left: string[] } {
  const folder = mkdtempSync(join(tmpdir(), 'treespec-telemetry-'));
  folders.push(folder);
  const { ORT_DISABLE_TELEMETRY: _, ...env } = process.env;
  const script = `
    import { loadOnnxRuntime } from ${JSON.stringify(dist)};
    const runtime = loadOnnxRuntime();
    const session = await runtime.createSession(Buffer.from(${JSON.stringify(IDENTITY_MODEL)}, 'base64'));
    await session.run({ x: new runtime.Tensor('float32', new Float32Array([1]), [1]) });
    await session.release();
    console.log(JSON.stringify(process.env.ORT_DISABLE_TELEMETRY ?? null));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...env, TMPDIR: folder, ...(telemetry === undefined ? {} : { ORT_DISABLE_TELEMETRY: telemetry }) },
  });
  return { variable: JSON.parse(out.toString()), left: readdirSync(folder) };
}

describe.runIf(process.platform === 'linux' && process.arch === 'x64')("ONNX Runtime's telemetry", () => {
  it('is off unless the process chose otherwise: nothing written to the temporary folder', () => {
    expect(openSessionAlone(undefined)).toEqual({ variable: '1', left: [] });
  });

  it('stays as an application set it', () => {
    // Whether ONNX Runtime's own telemetry then writes its log depends on the machine's state.
    expect(openSessionAlone('0').variable).toBe('0');
  });
});
