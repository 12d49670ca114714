import { join } from 'node:path';
import { ProviderUnavailableError } from '@treespec/core';
import { createSession } from '../src/index.js';
import { TINY } from './tiny.js';

/**
 * Why onnxruntime-node's WebGPU provider cannot run here (no adapter: no GPU and no software Vulkan
 * driver such as Mesa's lavapipe), or null when it can: a session of the tiny EAGLE head is opened
 * on it and released. Any other failure is thrown.
 */
export async function webGpuUnavailable(): Promise<string | null> {
  const probe = await createSession(join(TINY, 'eagle-head.onnx'), { executionProvider: 'webgpu' }).then(
    (s) => s.release().then(() => null),
    (e: unknown) => e,
  );
  if (probe instanceof ProviderUnavailableError) {
    const detail = String((probe.cause as Error)?.message ?? '');
    return `no WebGPU adapter here: ${(/Failed to .*/.exec(detail)?.[0] ?? probe.reason).trim()}`;
  }
  if (probe) throw probe;
  return null;
}
